using System.CommandLine;
using Lustre.Cli;
using Lustre.Client;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Cli;

/// <summary>A real embedded cluster with 4 OSTs, and a way to run the <c>lustre</c> command tree against it in-process.</summary>
public sealed class CliClusterFixture : IAsyncLifetime
{
    private LustreCluster? _cluster;
    private LustreClient? _client;

    public const int OstCount = 4;

    public string Address => _cluster!.Address;

    /// <summary>The cluster's data folder: OST objects are files under <c>ostNNNN/objects</c>.</summary>
    public string DataDirectory => _cluster!.DataDirectory;

    /// <summary>An SDK client to set up and check what the commands did.</summary>
    public LustreClient Client => _client!;

    public async Task InitializeAsync()
    {
        _cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = OstCount });
        _client = new LustreClient(_cluster.Address);
    }

    public async Task DisposeAsync()
    {
        await _client!.DisposeAsync();
        await _cluster!.DisposeAsync();
    }

    /// <summary>Runs <c>lustre ARGS --mgs ADDRESS</c> and returns its exit code, standard output and standard error.</summary>
    public Task<CliResult> RunAsync(params string[] args) => Run([.. args, "--mgs", Address]);

    /// <summary>Runs <c>lustre ARGS</c> exactly as given.</summary>
    public static async Task<CliResult> Run(string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await Program.CreateRootCommand().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return new CliResult(exit, output.ToString(), error.ToString());
    }
}

/// <summary>What a command did.</summary>
public sealed record CliResult(int ExitCode, string Output, string Error)
{
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public CliResult ShouldSucceed()
    {
        Assert.True(ExitCode == 0, $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}");
        return this;
    }
}
