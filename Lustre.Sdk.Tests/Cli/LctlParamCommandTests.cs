using Lustre.Client;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Cli;

/// <summary><c>lustre lctl dl/get_param/set_param/list_param/llog_print</c> against a running cluster: lctl's output and errors.</summary>
public sealed class LctlParamCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Dl_lists_the_commands_client_devices_then_the_servers_numbered_in_one_list()
    {
        var lines = (await cluster.RunAsync("lctl", "dl")).ShouldSucceed().Lines;

        Assert.Matches(@"^  0 UP mgc MGC127\.0\.0\.1:\d+ client-[0-9a-f]{32} 1$", lines[0]);
        Assert.Matches(@"^  3 UP mdc lustre-MDT0000-mdc-[0-9a-f]{16} client-", lines[3]);
        Assert.Matches(@"^  4 UP osc lustre-OST0000-osc-[0-9a-f]{16} ", lines[4]);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^ *\d+ UP mgs MGS MGS \d+$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^ *\d+ UP mdt lustre-MDT0000 lustre-MDT0000_UUID \d+$"));
        Assert.Equal(CliClusterFixture.OstCount, lines.Count(l => l.Contains(" UP obdfilter lustre-OST", StringComparison.Ordinal)));
        Assert.Equal(Enumerable.Range(0, lines.Length), lines.Select(l => int.Parse(l[..3], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Get_param_prints_name_equals_value_of_every_match_with_lctls_options()
    {
        var rpcs = (await cluster.RunAsync("lctl", "get_param", "osc.*.max_rpcs_in_flight")).ShouldSucceed().Lines;
        Assert.Equal(CliClusterFixture.OstCount, rpcs.Length);
        Assert.All(rpcs, l => Assert.Matches(@"^osc\.lustre-OST000[0-3]-osc-[0-9a-f]{16}\.max_rpcs_in_flight=8$", l));

        Assert.Equal(["600", "600", "600", "600", "600"], (await cluster.RunAsync("lctl", "get_param", "-n", "obdfilter.*.job_cleanup_interval", "mdt.*.job_cleanup_interval")).ShouldSucceed().Lines);
        Assert.Equal(["mdt.lustre-MDT0000.job_stats=", "mdt.lustre-MDT0000.uuid"], (await cluster.RunAsync("lctl", "get_param", "-N", "-F", "mdt.*.job_stats", "mdt.*.uuid")).ShouldSucceed().Lines);

        // A value of several lines starts after "NAME=" on a line of its own.
        await cluster.Client.GetInfoAsync("/");
        var stats = (await cluster.RunAsync("lctl", "get_param", "mdt.lustre-MDT0000.md_stats")).ShouldSucceed().Lines;
        Assert.Equal("mdt.lustre-MDT0000.md_stats=", stats[0]);
        Assert.StartsWith("snapshot_time ", stats[1], StringComparison.Ordinal);
        Assert.Contains(stats, l => l.StartsWith("getattr ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pattern_that_names_nothing_is_lctls_error_and_the_others_still_print()
    {
        var result = await cluster.RunAsync("lctl", "get_param", "osc.*.nothing", "mdt.*.uuid");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("mdt.lustre-MDT0000.uuid=lustre-MDT0000_UUID", result.Output.Trim());
        Assert.Equal("error: get_param: param_path 'osc/*/nothing': No such file or directory", result.Error.Trim());
    }

    [Fact]
    public async Task List_param_names_directories_and_parameters_with_F_and_R()
    {
        Assert.Equal(Enumerable.Range(0, CliClusterFixture.OstCount).Select(i => $"obdfilter.lustre-OST{i:X4}/"), (await cluster.RunAsync("lctl", "list_param", "-F", "obdfilter.*")).ShouldSucceed().Lines);

        var all = (await cluster.RunAsync("lctl", "list_param", "-R", "-F", "mdt")).ShouldSucceed().Lines;
        Assert.Equal("mdt/", all[0]);
        Assert.Contains("mdt.lustre-MDT0000.job_cleanup_interval=", all);
        Assert.Contains("mdt.lustre-MDT0000.kbytestotal", all);
        Assert.Equal(["llite", "mdc", "mdt", "mgs", "obdfilter", "osc"], (await cluster.RunAsync("lctl", "list_param", "-D", "*")).ShouldSucceed().Lines);
    }

    [Fact]
    public async Task Set_param_prints_what_it_set_and_refuses_read_only_parameters_and_absurd_values_with_lctls_errors()
    {
        try
        {
            var set = (await cluster.RunAsync("lctl", "set_param", "obdfilter.lustre-OST0003.job_cleanup_interval=42", "mdt.*.job_cleanup_interval", "43")).ShouldSucceed();
            Assert.Equal(["obdfilter.lustre-OST0003.job_cleanup_interval=42", "mdt.lustre-MDT0000.job_cleanup_interval=43"], set.Lines);
            Assert.Equal(["42", "43"], (await cluster.RunAsync("lctl", "get_param", "-n", "obdfilter.lustre-OST0003.job_cleanup_interval", "mdt.*.job_cleanup_interval")).ShouldSucceed().Lines);
            Assert.Empty((await cluster.RunAsync("lctl", "set_param", "-n", "mdt.*.job_cleanup_interval=600")).ShouldSucceed().Output);

            var readOnly = await cluster.RunAsync("lctl", "set_param", "mdt.*.uuid=x");
            Assert.Equal(1, readOnly.ExitCode);
            Assert.Equal("error: set_param: setting mdt.lustre-MDT0000.uuid=x: Permission denied (read-only)", readOnly.Error.Trim());

            var absurd = await cluster.RunAsync("lctl", "set_param", "osc.*OST0001*.max_rpcs_in_flight=0");
            Assert.Equal(2, absurd.ExitCode);
            Assert.Matches(@"^error: set_param: setting osc\.lustre-OST0001-osc-[0-9a-f]{16}\.max_rpcs_in_flight=0: Numerical result out of range \(must be 1 to 256; 0 is not\)$", absurd.Error.Trim());

            var unknown = await cluster.RunAsync("lctl", "set_param", "obdfilter.*.bogus=1");
            Assert.Equal(1, unknown.ExitCode);
            Assert.Equal("error: set_param: param_path 'obdfilter/*/bogus': No such file or directory", unknown.Error.Trim());

            Assert.Equal(2, (await cluster.RunAsync("lctl", "set_param", "mdt.*.job_cleanup_interval=")).ExitCode);
        }
        finally
        {
            await cluster.RunAsync("lctl", "set_param", "*.*.job_cleanup_interval=600");
        }
    }
}

/// <summary><c>lctl set_param -P</c>: stored on the MGS, applied now, at every server start and at every client's connect.</summary>
public sealed class PersistentParameterTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-params-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Set_param_P_survives_a_restart_reaches_new_clients_and_P_d_forgets_it()
    {
        var options = new LustreClusterOptions { DataDirectory = _data.Path, OstCount = 2, DeleteDataOnDispose = false };
        await using (var first = await LustreCluster.StartAsync(options))
        {
            var mgs = first.Address;
            (await Run(mgs, "lctl", "set_param", "-P", "obdfilter.*.job_cleanup_interval=120", "osc.*.max_rpcs_in_flight=16")).ShouldSucceed();

            // Applied at once on the servers, and given to a client when it connects.
            Assert.Equal(["120", "120"], (await Run(mgs, "lctl", "get_param", "-n", "obdfilter.*.job_cleanup_interval")).ShouldSucceed().Lines);
            await using (var client = new LustreClient(mgs))
            {
                Assert.All(await client.GetParametersAsync("osc.*.max_rpcs_in_flight"), p => Assert.Equal("16", p.Value));
            }

            Assert.Equal(
                ["- { index: 1, event: set_param, device: general, parameter: obdfilter.*.job_cleanup_interval, value: 120 }",
                 "- { index: 2, event: set_param, device: general, parameter: osc.*.max_rpcs_in_flight, value: 16 }"],
                (await Run(mgs, "lctl", "llog_print", "params")).ShouldSucceed().Lines);

            // A value no node takes is refused and not stored.
            var refused = await Run(mgs, "lctl", "set_param", "-P", "obdfilter.*.job_cleanup_interval=-5");
            Assert.Equal(2, refused.ExitCode);
            Assert.Equal(2, (await Run(mgs, "lctl", "llog_print", "params")).ShouldSucceed().Lines.Length);
        }

        await using (var second = await LustreCluster.StartAsync(options))
        {
            Assert.Equal(["120", "120"], (await Run(second.Address, "lctl", "get_param", "-n", "obdfilter.*.job_cleanup_interval")).ShouldSucceed().Lines);
            (await Run(second.Address, "lctl", "set_param", "-P", "-d", "obdfilter.*.job_cleanup_interval")).ShouldSucceed();
            Assert.Equal(1, (await Run(second.Address, "lctl", "set_param", "-P", "-d", "obdfilter.*.job_cleanup_interval")).ExitCode);
            Assert.Single((await Run(second.Address, "lctl", "llog_print", "params")).ShouldSucceed().Lines);
        }

        options.DeleteDataOnDispose = true;
        await using var third = await LustreCluster.StartAsync(options);
        Assert.Equal(["600", "600"], (await Run(third.Address, "lctl", "get_param", "-n", "obdfilter.*.job_cleanup_interval")).ShouldSucceed().Lines);
    }

    [Fact]
    public async Task Set_param_P_made_while_an_OSS_is_down_is_applied_when_it_starts()
    {
        var loggers = Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance;
        await using var mds = await LustreNode.StartAsync(new NodeOptions { DataDirectory = Path.Combine(_data.Path, "mds"), RunMgs = true, RunMds = true }, loggers, CancellationToken.None);
        var address = $"{mds.Endpoint}/{mds.FsName}";
        var oss = new NodeOptions { DataDirectory = Path.Combine(_data.Path, "oss"), RunOss = true, Mgs = mds.Endpoint, OstCount = 1 };
        await (await LustreNode.StartAsync(oss, loggers, CancellationToken.None)).DisposeAsync();

        var set = (await Run(address, "lctl", "set_param", "-P", "obdfilter.*.job_cleanup_interval=90", "mdt.*.job_cleanup_interval=91")).ShouldSucceed();
        Assert.Contains("no server that answered has obdfilter.*.job_cleanup_interval", set.Error, StringComparison.Ordinal);
        // The server that is down is reported; the others answer.
        var partial = await Run(address, "lctl", "get_param", "-n", "mdt.*.job_cleanup_interval");
        Assert.Equal((1, "91"), (partial.ExitCode, partial.Output.Trim()));
        Assert.Matches(@"^error: get_param: lustre-OST0000 at 127\.0\.0\.1:\d+: .*Connection refused", partial.Error);

        await using var back = await LustreNode.StartAsync(oss, loggers, CancellationToken.None);
        Assert.Equal("90", (await Run(address, "lctl", "get_param", "-n", "obdfilter.*.job_cleanup_interval")).ShouldSucceed().Output.Trim());

        // With every server up, a pattern no node has is refused, not stored.
        var typo = await Run(address, "lctl", "set_param", "-P", "obdfilter.*.job_cleanup_intreval=90");
        Assert.Equal(1, typo.ExitCode);
        Assert.Contains("param_path 'obdfilter/*/job_cleanup_intreval': No such file or directory", typo.Error, StringComparison.Ordinal);
        Assert.Equal(2, (await Run(address, "lctl", "llog_print", "params")).ShouldSucceed().Lines.Length);
    }

    private static Task<CliResult> Run(string address, params string[] args) => CliClusterFixture.Run([.. args, "--mgs", address]);
}
