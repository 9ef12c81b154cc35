using System.CommandLine;
using Lustre.Client;

namespace Lustre.Cli;

/// <summary>Builds the client commands: each takes <c>--mgs</c> (or LUSTRE_MGS) and runs in a <see cref="CliSession"/>.</summary>
internal static class ClientCommand
{
    public const string MgsEnvironmentVariable = "LUSTRE_MGS";

    /// <summary>How long the command line waits for a server to accept a connection: short, so a stopped cluster fails fast.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    public static LustreClientOptions ClientOptions()
    {
        var key = SecretLoader.LoadClientKey();
        return new LustreClientOptions
        {
            ConnectTimeout = ConnectTimeout,
            MaxAttempts = 2,
            SharedSecret = key?.Secret ?? SecretLoader.Load(null),
            KeyName = key?.Name,
        };
    }

    /// <summary>The cluster address: the option if given, else the environment variable, else null.</summary>
    public static string? ResolveAddress(string? option, Func<string, string?> environment) =>
        !string.IsNullOrWhiteSpace(option) ? option
        : environment(MgsEnvironmentVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment
        : null;

    /// <summary>
    /// Creates a command with an <c>--mgs</c> option whose action gets a session connected to the cluster (unless
    /// <paramref name="connect"/> is false: the action then calls <see cref="CliSession.ConnectAsync"/> when it needs
    /// the cluster). Every error becomes one line on standard error and a non-zero exit, never a stack trace.
    /// A subcommand names its <paramref name="parent"/> so that its errors read <c>lfs: mirror create: ...</c>.
    /// </summary>
    public static Command Create(string tool, string name, string description, IEnumerable<Symbol> symbols, Func<CliSession, ParseResult, CancellationToken, Task<int>> action, bool connect = true, string? parent = null)
    {
        var mgs = new Option<string?>("--mgs") { Description = $"Cluster address HOST:PORT/fsname (default: ${MgsEnvironmentVariable})" };
        var command = new Command(name, description) { mgs };
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option option:
                    command.Options.Add(option);
                    break;
                case Argument argument:
                    RejectOptionLikeValues(argument);
                    command.Arguments.Add(argument);
                    break;
            }
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var address = ResolveAddress(parse.GetValue(mgs), Environment.GetEnvironmentVariable);
            var session = new CliSession(parse, tool, parent is null ? name : $"{parent} {name}", address);
            await using (session.ConfigureAwait(false))
            {
                try
                {
                    if (connect)
                    {
                        await session.ConnectAsync(cancellationToken).ConfigureAwait(false);
                    }

                    return await action(session, parse, cancellationToken).ConfigureAwait(false);
                }
                catch (MissingAddressException ex)
                {
                    return session.Fail(ex.Message, 2);
                }
                catch (ClusterRefusedException ex)
                {
                    return session.Fail($"cannot use the cluster at {address}: {ex.Message}");
                }
                catch (Exception ex) when (ex is ClusterUnreachableException || CliErrors.IsUnreachable(ex))
                {
                    return session.Fail($"cannot reach the cluster at {address}: {(ex.InnerException ?? ex).Message}");
                }
                catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidDataException)
                {
                    return session.Fail(ex.Message, 2);
                }
                catch (Exception ex)
                {
                    // The last resort of a command line: whatever failed is one line and exit 1, never a stack trace.
                    return session.Fail(CliErrors.Reason(ex));
                }
            }
        });
        return command;
    }

    /// <summary>Paths are arguments of unbounded arity, which would swallow a misspelt option; say so instead, as getopt does.</summary>
    private static void RejectOptionLikeValues(Argument argument) => argument.Validators.Add(result =>
    {
        foreach (var token in result.Tokens)
        {
            if (token.Value.Length > 1 && token.Value[0] == '-')
            {
                result.AddError($"unrecognized option '{token.Value}'");
            }
        }
    });
}
