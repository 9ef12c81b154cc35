using System.CommandLine;

namespace Lustre.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (ArgumentEncoding.FindInvalid(args) is { } invalid)
        {
            await Console.Error.WriteLineAsync($"lustre: argument {invalid.Position} is not valid UTF-8: '{invalid.Printable}' (nothing was done)").ConfigureAwait(false);
            return 2;
        }

        var root = CreateRootCommand();
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or FileNotFoundException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"lustre: {ex.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (Exception ex)
        {
            // The client commands report their own errors; this is the last resort, for the servers too: one line, no stack trace.
            await Console.Error.WriteLineAsync($"lustre: {CliErrors.Reason(ex)}").ConfigureAwait(false);
            return 1;
        }
    }

    /// <summary>Every command of the executable; tests invoke this tree in-process.</summary>
    internal static RootCommand CreateRootCommand() => new("lustre: a Lustre-style parallel filesystem for .NET (servers and command-line client)")
        {
            ServerCommands.Up(),
            ServerCommands.Serve(),
            KeyCommands.Create(),
            LfsCommands.Create(),
            FileCommands.Ls(),
            FileCommands.Stat(),
            FileCommands.Mkdir(),
            FileCommands.Rm(),
            FileCommands.Mv(),
            FileCommands.Cat(),
            FileCommands.Touch(),
            FileCommands.Chmod(),
            FileCommands.Chown(),
            CopyCommand.Create(),
            LctlCommands.Create(),
        };
}
