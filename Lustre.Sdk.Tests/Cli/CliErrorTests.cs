using System.Diagnostics;
using Lustre.Cli;

namespace Lustre.Tests.Cli;

public sealed class CliErrorTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Unknown_option_fails_and_names_the_option()
    {
        var result = await cluster.RunAsync("lfs", "setstripe", "--bogus", "/unknown-option");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("'--bogus'", result.Error, StringComparison.Ordinal);
        Assert.False(await cluster.Client.ExistsAsync("/unknown-option"));
    }

    [Fact]
    public async Task Stripe_size_not_a_multiple_of_64K_is_refused_and_changes_nothing()
    {
        var result = await cluster.RunAsync("lfs", "setstripe", "-S", "100K", "/bad-size");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal("lfs: setstripe: invalid stripe size '100K': must be a multiple of 64 KiB (65536 bytes), at most 4294901760, or 0 for the default", result.Error.Trim());
        Assert.False(await cluster.Client.ExistsAsync("/bad-size"));
    }

    [Fact]
    public async Task Stripe_count_above_the_osts_is_capped_with_a_warning()
    {
        var result = (await cluster.RunAsync("lfs", "setstripe", "-c", "8", "/too-wide")).ShouldSucceed();

        Assert.Equal("lfs: setstripe: warning: stripe count 8 is larger than the 4 available OSTs: it will be capped at 4", result.Error.Trim());
        Assert.Equal("4", (await cluster.RunAsync("lfs", "getstripe", "-c", "/too-wide")).ShouldSucceed().Output.Trim());
    }

    [Fact]
    public async Task A_count_that_fits_gives_no_warning()
    {
        var result = (await cluster.RunAsync("lfs", "setstripe", "-c", "4", "/fits")).ShouldSucceed();

        Assert.Empty(result.Error);
    }

    [Theory]
    [InlineData("lfs: getstripe: '/nope': No such file or directory", "lfs", "getstripe", "/nope")]
    [InlineData("lfs: setstripe: '/no/dir': No such file or directory", "lfs", "setstripe", "-c", "1", "/no/dir")]
    [InlineData("lfs: migrate: '/nope': No such file or directory", "lfs", "migrate", "-c", "2", "/nope")]
    [InlineData("lfs: find: '/nope': No such file or directory", "lfs", "find", "/nope")]
    [InlineData("lustre: ls: '/nope': No such file or directory", "ls", "/nope")]
    [InlineData("lustre: cat: '/nope': No such file or directory", "cat", "/nope")]
    [InlineData("lustre: rm: '/nope': No such file or directory", "rm", "/nope")]
    [InlineData("lustre: cp: 'lustre:/nope': No such file or directory", "cp", "lustre:/nope", "lustre:/x")]
    public async Task Non_existent_paths_give_one_line_and_exit_1(string expected, params string[] args)
    {
        var result = await cluster.RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(expected, result.Error.Trim());
    }

    [Fact]
    public async Task Setstripe_on_an_existing_file_is_refused_as_lfs_does()
    {
        (await cluster.RunAsync("touch", "/exists")).ShouldSucceed();

        var result = await cluster.RunAsync("lfs", "setstripe", "-c", "2", "/exists");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("lfs: setstripe: '/exists': File exists", result.Error.Trim());
    }

    [Fact]
    public async Task A_cluster_that_is_not_running_gives_a_clear_message_quickly()
    {
        using var stopped = new RefusedPort();
        var address = $"{stopped}/lustre";
        var clock = Stopwatch.StartNew();

        var result = await CliClusterFixture.Run(["lfs", "df", "--mgs", address]).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(clock.Elapsed < ClientCommand.ConnectTimeout * 2, $"took {clock.Elapsed}");
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"lfs: df: cannot reach the cluster at {address}: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" at Lustre.", result.Error, StringComparison.Ordinal);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task No_address_at_all_says_how_to_give_one()
    {
        if (Environment.GetEnvironmentVariable(ClientCommand.MgsEnvironmentVariable) is not null)
        {
            return;
        }

        var result = await CliClusterFixture.Run(["ls", "/"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--mgs ADDRESS or set LUSTRE_MGS", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_address_comes_from_the_option_else_the_environment()
    {
        var environment = new Dictionary<string, string?> { [ClientCommand.MgsEnvironmentVariable] = "10.0.0.1:9880/env" };

        Assert.Equal("10.0.0.2:9880/opt", ClientCommand.ResolveAddress("10.0.0.2:9880/opt", environment.GetValueOrDefault));
        Assert.Equal("10.0.0.1:9880/env", ClientCommand.ResolveAddress(null, environment.GetValueOrDefault));
        Assert.Null(ClientCommand.ResolveAddress(null, _ => null));
    }

    [Theory]
    [InlineData("setstripe")]
    [InlineData("getstripe")]
    [InlineData("df")]
    [InlineData("find")]
    [InlineData("migrate")]
    [InlineData("mirror create")]
    [InlineData("mirror extend")]
    [InlineData("mirror split")]
    [InlineData("mirror resync")]
    [InlineData("mirror verify")]
    public async Task Every_lfs_command_has_help(string command)
    {
        var result = (await CliClusterFixture.Run(["lfs", .. command.Split(' '), "--help"])).ShouldSucceed();

        Assert.Contains($" lfs {command} ", result.Output, StringComparison.Ordinal);
        Assert.Contains("--mgs", result.Output, StringComparison.Ordinal);
    }
}
