using System.CommandLine;
using System.Text;
using System.Text.RegularExpressions;
using Lustre.Cli;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Cli;

/// <summary>
/// Every command of the real <c>lustre</c> executable, enumerated from its command tree so new ones are covered,
/// against a cluster that refuses it, is not there, or answers with an error: one line naming the problem, exit 1 or
/// 2, never a stack trace.
/// </summary>
public sealed partial class CliFailureTests : IAsyncLifetime
{
    private const string Secret = "the-cluster-secret-0123456789abcdef";
    private readonly TempFolder _data = new("lustre-fail-");
    private LustreCluster? _cluster;

    public async Task InitializeAsync() =>
        _cluster = await LustreCluster.StartAsync(new LustreClusterOptions { SharedSecret = Encoding.UTF8.GetBytes(Secret) });

    public async Task DisposeAsync()
    {
        await _cluster!.DisposeAsync();
        _data.Dispose();
    }

    private enum Scenario
    {
        WrongSecret,
        MissingSecret,
        StoppedCluster,
        WrongFsName,
        ServerError,
    }

    [Fact]
    public async Task Every_command_fails_with_one_line_and_no_stack_trace()
    {
        var runs = new List<(string[] Args, Dictionary<string, string> Environment, string Expected)>();
        using var stopped = new RefusedPort();
        foreach (var scenario in Enum.GetValues<Scenario>())
        {
            var endpoint = _cluster!.Endpoint.ToString();
            var (mgs, secret, expected) = scenario switch
            {
                Scenario.WrongSecret => (endpoint, "not-the-secret-0123456789abcdefgh", "wrong shared secret"),
                Scenario.MissingSecret => (endpoint, null, "requires a shared secret"),
                Scenario.StoppedCluster => (stopped.ToString(), Secret, "Connection refused"),
                Scenario.WrongFsName => (endpoint, Secret, "'wrong'"),
                _ => (endpoint, Secret, "No such file or directory"),
            };
            var environment = secret is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["LUSTRE_SECRET"] = secret };
            foreach (var (path, command) in Leaves(Program.CreateRootCommand(), []))
            {
                if (Arguments(path, command, mgs, scenario) is { } args)
                {
                    runs.Add((args, environment, path[^1] switch
                    {
                        "backup-mdt" when scenario == Scenario.ServerError => "Invalid argument",
                        "up" => "cannot start",
                        _ => expected,
                    }));
                }
            }
        }

        using var slots = new SemaphoreSlim(4);
        var results = await Task.WhenAll(runs.Select(async run =>
        {
            await slots.WaitAsync();
            try
            {
                return (run, await CliProcess.RunAsync(run.Args, run.Environment));
            }
            finally
            {
                slots.Release();
            }
        }));

        var failures = new StringBuilder();
        foreach (var ((args, environment, wanted), result) in results)
        {
            if (result.ExitCode is not (1 or 2) || StackFrame().IsMatch(result.Error) || result.Error.Contains("Unhandled exception", StringComparison.Ordinal)
                || !result.Error.Contains(wanted, StringComparison.Ordinal))
            {
                failures.AppendLine($"lustre {string.Join(' ', args)} ({(environment.Count == 0 ? "no secret" : "a secret")}): exit {result.ExitCode}, wanted '{wanted}' in:\n{result.Error}");
            }
        }

        Assert.True(runs.Count >= 70, $"only {runs.Count} command lines");
        Assert.True(failures.Length == 0, failures.ToString());
    }

    /// <summary>Every command without subcommands, with its path from the root (<c>lfs setstripe</c>).</summary>
    private static IEnumerable<(string[] Path, Command Command)> Leaves(Command command, string[] path)
    {
        foreach (var child in command.Subcommands)
        {
            string[] childPath = [.. path, child.Name];
            if (child.Subcommands.Count == 0)
            {
                yield return (childPath, child);
            }
            else
            {
                foreach (var leaf in Leaves(child, childPath))
                {
                    yield return leaf;
                }
            }
        }
    }

    /// <summary>A command line that makes <paramref name="command"/> talk to the cluster at <paramref name="mgs"/>, or null when the scenario cannot apply.</summary>
    private string[]? Arguments(string[] path, Command command, string mgs, Scenario scenario)
    {
        if (path is ["key", "new"])
        {
            // Talks to no cluster: its own failures (a name taken, a bad name) are KeyCommandTests'.
            return null;
        }

        if (path is ["up"] or ["serve"])
        {
            // The servers: serve joins the cluster as an OSS; up starts its own, and can only fail on its own data folder.
            return (path[^1], scenario) switch
            {
                ("serve", not (Scenario.WrongFsName or Scenario.ServerError)) => [.. path, "--role", "oss", "--data", Path.Combine(_data.Path, $"oss-{scenario}"), "--mgs", mgs],
                ("up", Scenario.ServerError) => [.. path, "--data", NotADirectory(), "--port", "0"],
                _ => null,
            };
        }

        if (path is [.., "pool_new"] && scenario == Scenario.ServerError)
        {
            // What the MGS refuses of pool_new is a pool that exists: PoolCommandTests'.
            return null;
        }

        // -N takes an optional count, so the parser cannot require these commands' paths; they still need one. And
        // the options without which a mirror command stops before it asks the cluster anything.
        var needsPath = path is [.., "setstripe"] or [.., "mirror", "create" or "extend"];
        List<string> values = path switch
        {
            [.., "mirror", "create"] => ["-N"],
            [.., "mirror", "split"] => ["--mirror-id", "1", "-d"],
            _ => [],
        };
        var options = values.Count;
        foreach (var argument in command.Arguments)
        {
            for (var i = 0; i < Math.Max(argument.Arity.MinimumNumberOfValues, needsPath ? 1 : 0); i++)
            {
                values.Add((path[^1], scenario) switch
                {
                    ("activate" or "deactivate", Scenario.ServerError) => "99",
                    ("activate" or "deactivate", _) => "0",
                    ("backup-mdt", Scenario.ServerError) => "../../etc",
                    ("backup-mdt", _) => "b",
                    ("chmod" or "chown", _) when argument.Name is "MODE" or "OWNER" => "640",
                    ("fid2path", _) when argument.Name == "FSNAME|ROOT" => "lustre",
                    ("fid2path", _) => "[0x200000400:0xfffffff:0x0]",
                    (_, _) when argument.Name.StartsWith("FSNAME.", StringComparison.Ordinal) || argument.Name == "FSNAME[.POOL]" => "lustre.nope",
                    (_, _) when argument.Name == "OST" => "OST0000",
                    ("set_param", _) => $"nope.{i}=1",
                    _ => $"lustre:/nope/{i}",
                });
            }
        }

        // Without a path there is nothing the server can refuse (lfs df).
        return scenario == Scenario.ServerError && values.Count == options && path[^1] != "up"
            ? null
            : [.. path, .. values, "--mgs", $"{mgs}/{(scenario == Scenario.WrongFsName ? "wrong" : "lustre")}"];
    }

    private string NotADirectory()
    {
        var file = Path.Combine(_data.Path, "a-file");
        File.WriteAllText(file, "not a directory");
        return file;
    }

    [GeneratedRegex(@"^\s+at ", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
