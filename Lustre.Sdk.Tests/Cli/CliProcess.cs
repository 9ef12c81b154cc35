using System.Diagnostics;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Cli;

/// <summary>Runs the real <c>lustre</c> executable to completion, as a user does from a shell.</summary>
internal static class CliProcess
{
    /// <summary>How long one command may take before the test fails it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static string LustreDll => Path.Combine(AppContext.BaseDirectory, "lustre.dll");

    /// <summary>Runs <c>lustre ARGS</c> with only the given LUSTRE_* variables (none inherited from the test's environment).</summary>
    public static Task<CliResult> RunAsync(string[] args, IReadOnlyDictionary<string, string>? environment = null) =>
        RunAsync(ServerProcess.Dotnet, [LustreDll, .. args], environment);

    /// <summary>Runs a bash script in which <c>"$0" "$1"</c> is the lustre command, for arguments that are bytes rather than strings.</summary>
    public static Task<CliResult> RunInShellAsync(string script, params string[] args) =>
        RunAsync("bash", ["-c", script, ServerProcess.Dotnet, LustreDll, .. args], null);

    private static async Task<CliResult> RunAsync(string file, string[] args, IReadOnlyDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Remove("LUSTRE_MGS");
        info.Environment.Remove("LUSTRE_SECRET");
        info.Environment.Remove("LUSTRE_KEY_FILE");
        info.Environment.Remove("LUSTRE_KEY");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"lustre {string.Join(' ', args.Skip(1))} did not finish within {Timeout}:\n{await output}\n{await error}");
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}
