using Lustre.Layouts;

namespace Lustre.Tests.Cli;

/// <summary><c>lfs mirror extend/split/resync/verify</c>: round trips that keep every byte, checked through the SDK and the OST object files, and what is refused.</summary>
public sealed class MirrorCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Extend_verify_and_split_round_trip_keeps_every_byte()
    {
        var data = await cluster.WriteAsync("/round-trip", (5 << 20) + 7, FileLayout.Raid0(1L << 20, stripeCount: 2));

        // With no layout options the new mirror takes the file's count and size, as lfs mirror extend does.
        (await cluster.RunAsync("lfs", "mirror", "extend", "-N", "/round-trip")).ShouldSucceed();
        var extended = (await cluster.Client.GetInfoAsync("/round-trip")).Layout!;
        Assert.Equal([1, 2], extended.Mirrors.Select(m => m.Id));
        Assert.All(extended.Mirrors, m => Assert.False(m.IsStale));
        Assert.Equal((2, 1L << 20), (extended.Mirrors[1].Layout.Components[0].StripeCount, extended.Mirrors[1].Layout.Components[0].StripeSize));
        Assert.Equal(data, await cluster.ReadAsync("/round-trip"));

        var verify = (await cluster.RunAsync("lfs", "mirror", "verify", "-v", "/round-trip")).ShouldSucceed();
        Assert.Equal($"/round-trip: mirrors 1, 2 hold the same {data.Length} bytes [0, 0x{data.Length:x})", verify.Output.Trim());
        Assert.Empty(verify.Error);
        Assert.Empty((await cluster.RunAsync("lfs", "mirror", "verify", "/round-trip")).ShouldSucceed().Output);

        // Split off the original mirror: the copy made by extend is what is left, with every byte.
        (await cluster.RunAsync("lfs", "mirror", "split", "--mirror-id", "1", "-d", "/round-trip")).ShouldSucceed();
        var split = (await cluster.Client.GetInfoAsync("/round-trip")).Layout!;
        Assert.Equal([2], split.Mirrors.Select(m => m.Id));
        Assert.Equal(data, await cluster.ReadAsync("/round-trip"));

        // Extend again by component id and split by component id: (mirror id << 16) | n.
        (await cluster.RunAsync("lfs", "mirror", "extend", "-N", "-c", "1", "/round-trip")).ShouldSucceed();
        var again = (await cluster.Client.GetInfoAsync("/round-trip")).Layout!;
        Assert.Equal([2, 3], again.Mirrors.Select(m => m.Id));
        Assert.Contains("    lcme_id:             196610", (await cluster.RunAsync("lfs", "getstripe", "/round-trip")).ShouldSucceed().Lines);
        (await cluster.RunAsync("lfs", "mirror", "split", "-I", "131073", "-d", "/round-trip")).ShouldSucceed();
        Assert.Equal([3], (await cluster.Client.GetInfoAsync("/round-trip")).Layout!.Mirrors.Select(m => m.Id));
        Assert.Equal(data, await cluster.ReadAsync("/round-trip"));
    }

    [Fact]
    public async Task Resync_copies_the_file_to_a_stale_mirror()
    {
        var data = await cluster.WriteAsync("/stale", 3 << 20, FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));
        var writer = await cluster.MarkStaleAsync("/stale", 2);

        // What a stale mirror holds is not the file: here, bytes it missed.
        var staleObject = (await cluster.Client.GetInfoAsync("/stale")).Layout!.Mirrors[1].Layout.Components[0].Objects[0];
        await cluster.CorruptAsync(staleObject, 1 << 20);
        Assert.Contains("    lcme_flags:          init,stale", (await cluster.RunAsync("lfs", "getstripe", "/stale")).ShouldSucceed().Lines);

        var stale = await cluster.RunAsync("lfs", "mirror", "verify", "/stale");
        Assert.Equal(1, stale.ExitCode);
        Assert.Equal("lfs: mirror verify: '/stale': mirror 2 is stale, not compared (lfs mirror resync brings it in sync)", stale.Error.Trim());
        await writer.DisposeAsync();

        (await cluster.RunAsync("lfs", "mirror", "resync", "/stale")).ShouldSucceed();

        var layout = (await cluster.Client.GetInfoAsync("/stale")).Layout!;
        Assert.All(layout.Mirrors, m => Assert.False(m.IsStale));
        Assert.Equal(data, await File.ReadAllBytesAsync(cluster.ObjectFile(staleObject)));
        Assert.Equal(["    lcme_flags:          init", "    lcme_flags:          init"], (await cluster.RunAsync("lfs", "getstripe", "/stale")).ShouldSucceed().Lines.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)));
        (await cluster.RunAsync("lfs", "mirror", "verify", "/stale")).ShouldSucceed();
    }

    [Fact]
    public async Task Resync_of_a_file_open_for_writing_is_busy_for_that_file_only()
    {
        await cluster.WriteAsync("/busy", 1 << 20, FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));

        var writer = await cluster.MarkStaleAsync("/busy", 2);
        await using (writer)
        {
            var result = await cluster.RunAsync("lfs", "mirror", "resync", "/busy");

            Assert.Equal(1, result.ExitCode);
            var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("lfs: mirror resync: '/busy': Device or resource busy (", line, StringComparison.Ordinal);
            Assert.True((await cluster.Client.GetInfoAsync("/busy")).Layout!.Mirrors[1].IsStale);
        }

        (await cluster.RunAsync("lfs", "mirror", "resync", "/busy")).ShouldSucceed();
        Assert.False((await cluster.Client.GetInfoAsync("/busy")).Layout!.Mirrors[1].IsStale);
    }

    [Fact]
    public async Task Verify_says_where_mirrors_differ_and_exits_1()
    {
        await cluster.WriteAsync("/differ", 6 << 20, FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));
        var second = (await cluster.Client.GetInfoAsync("/differ")).Layout!.Mirrors[1].Layout.Components[0].Objects[0];
        (await cluster.RunAsync("lfs", "mirror", "verify", "/differ")).ShouldSucceed();

        await cluster.CorruptAsync(second, 5_000_000);
        var result = await cluster.RunAsync("lfs", "mirror", "verify", "-v", "/differ", "/absent");

        Assert.Equal(1, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("lfs: mirror verify: '/differ': mirror 2 differs from mirror 1 in [0x4c4b40, 0x600000)", lines[0]);
        Assert.Equal("lfs: mirror verify: '/absent': No such file or directory", lines[1]);
        Assert.Empty(result.Output);
    }

    [Fact]
    public async Task Splitting_the_only_mirror_in_sync_resyncs_first_as_lfs_does()
    {
        var data = await cluster.WriteAsync("/last-in-sync", 2 << 20, FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));
        await using (await cluster.MarkStaleAsync("/last-in-sync", 2))
        {
            await cluster.CorruptAsync((await cluster.Client.GetInfoAsync("/last-in-sync")).Layout!.Mirrors[1].Layout.Components[0].Objects[0], 0);
        }

        (await cluster.RunAsync("lfs", "mirror", "split", "--mirror-id", "1", "-d", "/last-in-sync")).ShouldSucceed();

        var layout = (await cluster.Client.GetInfoAsync("/last-in-sync")).Layout!;
        var left = Assert.Single(layout.Mirrors);
        Assert.Equal(2, left.Id);
        Assert.False(left.IsStale);
        Assert.Equal(data, await cluster.ReadAsync("/last-in-sync"));
    }

    [Theory]
    [InlineData("bad mirror count: 0: use 1 to 4 (a file has at most 4 mirrors)", "-N0")]
    [InlineData("bad mirror count: 5: use 1 to 4 (a file has at most 4 mirrors)", "-N5")]
    [InlineData("bad mirror count: =3: the total form (-N=TOTAL) is not supported; give the number of mirrors to add", "--mirror-count==3")]
    public async Task A_bad_extend_count_is_refused_naming_it_and_changes_nothing(string message, string option)
    {
        var target = $"/bad-extend{option}";
        await cluster.WriteAsync(target, 1000, FileLayout.Raid0());
        var before = (await cluster.Client.GetInfoAsync(target)).Layout!.ToString();

        var result = await cluster.RunAsync("lfs", "mirror", "extend", option, target);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"lfs: mirror extend: {message}", result.Error.Trim());
        Assert.Equal(before, (await cluster.Client.GetInfoAsync(target)).Layout!.ToString());
    }

    [Fact]
    public async Task Extending_past_4_mirrors_is_refused_and_changes_nothing()
    {
        var data = await cluster.WriteAsync("/four", 1000, FileLayout.Mirrored(3, FileLayout.Raid0(stripeCount: 1)));
        var before = (await cluster.Client.GetInfoAsync("/four")).Layout!.ToString();

        var result = await cluster.RunAsync("lfs", "mirror", "extend", "-N2", "/four");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("lfs: mirror extend: '/four': Invalid argument (the file has 3 mirrors and 2 more were asked for: at most 4)", result.Error.Trim());
        Assert.Equal(before, (await cluster.Client.GetInfoAsync("/four")).Layout!.ToString());
        Assert.Equal(data, await cluster.ReadAsync("/four"));
    }

    [Fact]
    public async Task Split_refuses_an_unknown_mirror_the_last_mirror_and_a_split_without_d_changing_nothing()
    {
        var data = await cluster.WriteAsync("/split-refused", 1000, FileLayout.Mirrored(2, FileLayout.Raid0(stripeCount: 1)));
        await cluster.WriteAsync("/split-plain", 1000, FileLayout.Raid0(stripeCount: 1));
        var before = (await cluster.Client.GetInfoAsync("/split-refused")).Layout!.ToString();

        async Task Refused(int exit, string message, params string[] args)
        {
            var result = await cluster.RunAsync(["lfs", "mirror", "split", .. args]);
            Assert.True(result.ExitCode == exit, $"exit {result.ExitCode}: {result.Error}");
            Assert.Equal($"lfs: mirror split: {message}", result.Error.Trim());
        }

        await Refused(1, "'/split-refused': the file has no mirror with id 7 (its mirrors: 1, 2)", "--mirror-id", "7", "-d", "/split-refused");
        await Refused(1, "'/split-refused': the file has no component with id 65538 (its components: 65537, 131074)", "-I", "65538", "-d", "/split-refused");
        await Refused(2, "only the destroy form is supported: add -d (--destroy) to remove the mirror and destroy its objects (lfs would keep them as FILE.mirror~ID)", "--mirror-id", "2", "/split-refused");
        await Refused(2, "-f NEW_FILE (keeping the split mirror as a file of its own) is not supported: use -d to destroy the mirror", "--mirror-id", "2", "-f", "/kept", "/split-refused");
        await Refused(2, "give the mirror to split with --mirror-id ID or --component-id COMP_ID (one of them)", "-d", "/split-refused");
        await Refused(2, "bad mirror id 'x': use 1 to 32767", "--mirror-id", "x", "-d", "/split-refused");
        await Refused(1, "'/split-plain': cannot split: the file has no mirrors; splitting would leave no copy", "--mirror-id", "1", "-d", "/split-plain");
        Assert.Equal(before, (await cluster.Client.GetInfoAsync("/split-refused")).Layout!.ToString());
        Assert.False(await cluster.Client.ExistsAsync("/kept"));

        // Down to one mirror, the last one is refused.
        (await cluster.RunAsync("lfs", "mirror", "split", "--mirror-id", "1", "-d", "/split-refused")).ShouldSucceed();
        var one = (await cluster.Client.GetInfoAsync("/split-refused")).Layout!.ToString();
        await Refused(1, "'/split-refused': cannot split: the file has only 1 mirror; splitting would leave no copy", "--mirror-id", "2", "-d", "/split-refused");
        Assert.Equal(one, (await cluster.Client.GetInfoAsync("/split-refused")).Layout!.ToString());
        Assert.Equal(data, await cluster.ReadAsync("/split-refused"));
    }

    [Fact]
    public async Task Resync_and_verify_refuse_files_without_mirrors()
    {
        await cluster.WriteAsync("/not-mirrored", 1000, FileLayout.Raid0());
        await cluster.Client.CreateDirectoryAsync("/not-a-file");

        foreach (var command in new[] { "resync", "verify" })
        {
            var result = await cluster.RunAsync("lfs", "mirror", command, "/not-mirrored", "/not-a-file");
            Assert.Equal(1, result.ExitCode);
            Assert.Equal([$"lfs: mirror {command}: '/not-mirrored': not a mirrored (FLR) file", $"lfs: mirror {command}: '/not-a-file': Is a directory"], result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }
}
