using System.Globalization;
using System.Text.RegularExpressions;
using Lustre.Layouts;

namespace Lustre.Tests.Cli;

public sealed partial class LfsCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Getstripe_after_setstripe_prints_the_plain_layout_as_lfs()
    {
        await cluster.RunAsync("mkdir", "/plain");
        (await cluster.RunAsync("lfs", "setstripe", "-c", "2", "-S", "1M", "/plain/f")).ShouldSucceed();

        var result = (await cluster.RunAsync("lfs", "getstripe", "/plain/f")).ShouldSucceed();

        var lines = result.Lines;
        Assert.Equal("/plain/f", lines[0]);
        Assert.Equal("lmm_stripe_count:  2", lines[1]);
        Assert.Equal("lmm_stripe_size:   1048576", lines[2]);
        Assert.Equal("lmm_pattern:       raid0", lines[3]);
        Assert.Equal("lmm_layout_gen:    0", lines[4]);
        Assert.StartsWith("lmm_stripe_offset: ", lines[5]);
        Assert.Equal("\tobdidx\t\t objid\t\t objid\t\t group", lines[6]);
        var layout = (await cluster.Client.GetInfoAsync("/plain/f")).Layout!;
        for (var s = 0; s < 2; s++)
        {
            var obj = layout.Components[0].Objects[s];
            var row = lines[7 + s].Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal([obj.OstIndex.ToString(CultureInfo.InvariantCulture), obj.ObjectId.ToString(CultureInfo.InvariantCulture), $"0x{obj.ObjectId:x}", "0"], row);
        }

        Assert.Equal("2", (await cluster.RunAsync("lfs", "getstripe", "-c", "/plain/f")).ShouldSucceed().Output.Trim());
        Assert.Equal("1048576", (await cluster.RunAsync("lfs", "getstripe", "-S", "/plain/f")).ShouldSucceed().Output.Trim());
    }

    [Fact]
    public async Task Getstripe_after_composite_setstripe_prints_every_component()
    {
        (await cluster.RunAsync("lfs", "setstripe", "-E", "4M", "-c", "1", "-E", "64M", "-c", "2", "-S", "1M", "-E", "-1", "-c", "-1", "/pfl")).ShouldSucceed();

        var result = (await cluster.RunAsync("lfs", "getstripe", "/pfl")).ShouldSucceed();

        Assert.Contains("  lcm_entry_count:   3", result.Lines);
        Assert.Equal(
            ["    lcme_extent.e_end:   4194304", "    lcme_extent.e_end:   67108864", "    lcme_extent.e_end:   EOF"],
            result.Lines.Where(l => l.Contains("e_end", StringComparison.Ordinal)));
        // Only the first component has objects until a write reaches the others (lazy, as Lustre): -1 stays -1.
        Assert.Equal(
            ["      lmm_stripe_count:  1", "      lmm_stripe_count:  2", "      lmm_stripe_count:  -1"],
            result.Lines.Where(l => l.Contains("lmm_stripe_count", StringComparison.Ordinal)));
        Assert.Equal(
            ["    lcme_flags:          init", "    lcme_flags:          0", "    lcme_flags:          0"],
            result.Lines.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)));

        // Unset values come from the component before, as in lfs: the third keeps the second one's 1 MiB; the first
        // leaves its size to the default, the filesystem's 4 MiB.
        Assert.Equal(
            ["      lmm_stripe_size:   4194304", "      lmm_stripe_size:   1048576", "      lmm_stripe_size:   1048576"],
            result.Lines.Where(l => l.Contains("lmm_stripe_size", StringComparison.Ordinal)));
        Assert.Single(result.Lines, l => l.Contains("l_ost_idx", StringComparison.Ordinal));
        var layout = (await cluster.Client.GetInfoAsync("/pfl")).Layout!;
        Assert.True(layout.IsComposite);
        Assert.Equal(3, layout.Components.Count);
    }

    [Fact]
    public async Task Directory_default_layout_is_shown_by_getstripe_and_inherited_by_new_files()
    {
        (await cluster.RunAsync("mkdir", "/inherit")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-c", "3", "-S", "256K", "/inherit")).ShouldSucceed();
        (await cluster.RunAsync("touch", "/inherit/child")).ShouldSucceed();

        var directory = (await cluster.RunAsync("lfs", "getstripe", "-d", "/inherit")).ShouldSucceed();
        Assert.Equal(["/inherit", "stripe_count:  3 stripe_size:   262144 pattern:       raid0 stripe_offset: -1"], directory.Lines);

        var listing = (await cluster.RunAsync("lfs", "getstripe", "/inherit")).ShouldSucceed();
        Assert.Contains("/inherit/child", listing.Lines);
        Assert.Contains("lmm_stripe_count:  3", listing.Lines);
        Assert.Contains("lmm_stripe_size:   262144", listing.Lines);

        (await cluster.RunAsync("lfs", "setstripe", "-d", "/inherit")).ShouldSucceed();
        Assert.Equal(["/inherit"], (await cluster.RunAsync("lfs", "getstripe", "-d", "/inherit")).ShouldSucceed().Lines);
    }

    [Fact]
    public async Task Getstripe_v_adds_the_fid_lines_as_lfs()
    {
        await cluster.Client.CreateDirectoryAsync("/verbose");
        (await cluster.RunAsync("lfs", "setstripe", "-c", "2", "-S", "1M", "/verbose/plain")).ShouldSucceed();
        var plain = await cluster.Client.GetInfoAsync("/verbose/plain");

        var lines = (await cluster.RunAsync("lfs", "getstripe", "-v", "/verbose/plain")).ShouldSucceed().Lines;

        Assert.Equal(
            [
                "/verbose/plain",
                "lmm_magic:         0x0BD10BD0",
                $"lmm_seq:           0x{plain.Fid.Sequence:x}",
                $"lmm_object_id:     0x{plain.Fid.ObjectId:x}",
                $"lmm_fid:           {plain.Fid}",
                "lmm_stripe_count:  2",
                "lmm_stripe_size:   1048576",
                "lmm_pattern:       raid0",
                "lmm_layout_gen:    0",
            ],
            lines[..9]);
        Assert.Equal("\tobdidx\t\t objid\t\t objid\t\t group", lines[10]);

        // A composite file: the header, then each component with its offset and size in Lustre's on-disk layout.
        (await cluster.RunAsync("lfs", "setstripe", "-E", "1M", "-c", "1", "-E", "-1", "-c", "2", "/verbose/pfl")).ShouldSucceed();
        var pfl = await cluster.Client.GetInfoAsync("/verbose/pfl");
        var sizes = pfl.Layout!.Components.Select(c => 32 + (24 * (c.IsInstantiated ? c.Objects.Count : 1))).ToArray();
        var composite = (await cluster.RunAsync("lfs", "getstripe", "--verbose", "/verbose/pfl")).ShouldSucceed().Lines;
        Assert.Equal(
            [
                "/verbose/pfl",
                "composite_header:",
                "  lcm_magic:         0x0BD60BD0",
                $"  lcm_size:          {128 + sizes.Sum()}",
                "  lcm_flags:         0",
                $"  lcm_layout_gen:    {pfl.Layout.Generation}",
                "  lcm_mirror_count:  1",
                "  lcm_entry_count:   2",
                "components:",
                "  - lcme_id:             1",
                "    lcme_mirror_id:      0",
            ],
            composite[..11]);
        Assert.Equal(["    lcme_offset:         128", $"    lcme_offset:         {128 + sizes[0]}"], composite.Where(l => l.Contains("lcme_offset", StringComparison.Ordinal)));
        Assert.Equal(sizes.Select(s => $"    lcme_size:           {s}"), composite.Where(l => l.Contains("lcme_size", StringComparison.Ordinal)));
        Assert.Equal(2, composite.Count(l => l == "    sub_layout:"));
        Assert.Equal(2, composite.Count(l => l == $"      lmm_fid:           {pfl.Fid}"));

        // A directory: its own FID, then its default on one line; a value it leaves to the default prints 0 (lfs -R).
        (await cluster.RunAsync("lfs", "setstripe", "-c", "3", "/verbose")).ShouldSucceed();
        var directory = await cluster.Client.GetInfoAsync("/verbose");
        var listing = (await cluster.RunAsync("lfs", "getstripe", "-v", "-d", "/verbose")).ShouldSucceed().Lines;
        Assert.Equal(["/verbose", $"lmm_fid:           {directory.Fid}", "stripe_count:  3 stripe_size:   0 pattern:       raid0 stripe_offset: -1"], listing);
    }

    [Fact]
    public async Task Getstripe_r_descends_and_field_options_list_no_entries()
    {
        await cluster.Client.CreateDirectoryAsync("/tree");
        await cluster.Client.CreateDirectoryAsync("/tree/a");
        await cluster.Client.CreateDirectoryAsync("/tree/a/b");
        await cluster.WriteAsync("/tree/top", 1, FileLayout.Raid0(stripeCount: 1));
        await cluster.WriteAsync("/tree/a/b/deep", 1, FileLayout.Raid0(stripeCount: 3));

        string[] Names(CliResult result) => [.. result.Lines.Where(l => l.StartsWith('/'))];

        Assert.Equal(["/tree", "/tree/a", "/tree/top"], Names((await cluster.RunAsync("lfs", "getstripe", "/tree")).ShouldSucceed()));
        Assert.Equal(["/tree", "/tree/a", "/tree/a/b", "/tree/a/b/deep", "/tree/top"], Names((await cluster.RunAsync("lfs", "getstripe", "-r", "/tree")).ShouldSucceed()));
        Assert.Equal(["/tree/a/b/deep", "3"], (await cluster.RunAsync("lfs", "getstripe", "-r", "-c", "/tree/a")).ShouldSucceed().Lines[^2..]);

        // As lfs: -c, -S, -i print the directory's own values and list nothing under it.
        Assert.Empty((await cluster.RunAsync("lfs", "getstripe", "-c", "/tree")).ShouldSucceed().Lines);
    }

    [Fact]
    public async Task Df_summary_is_the_sum_of_the_ost_rows()
    {
        var result = (await cluster.RunAsync("lfs", "df")).ShouldSucceed();

        Assert.Equal(["UUID", "1K-blocks", "Used", "Available", "Use%", "Mounted", "on"], result.Lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var rows = result.Lines.Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Single(rows, r => r[0] == "lustre-MDT0000_UUID" && r[5] == "/lustre[MDT:0]");
        var osts = rows.Where(r => r[0].StartsWith("lustre-OST", StringComparison.Ordinal)).ToList();
        Assert.Equal(CliClusterFixture.OstCount, osts.Count);
        var summary = Assert.Single(rows, r => r[0] == "filesystem_summary:");
        for (var column = 1; column <= 3; column++)
        {
            Assert.Equal(osts.Sum(r => long.Parse(r[column], CultureInfo.InvariantCulture)), long.Parse(summary[column], CultureInfo.InvariantCulture));
        }

        var human = (await cluster.RunAsync("lfs", "df", "-h")).ShouldSucceed();
        Assert.Contains("bytes", human.Lines[0], StringComparison.Ordinal);
        Assert.Matches(HumanSize(), human.Lines.Single(l => l.StartsWith("filesystem_summary:", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Find_filters_by_name_type_size_stripe_count_and_mtime()
    {
        await cluster.Client.CreateDirectoryAsync("/find");
        await cluster.Client.CreateDirectoryAsync("/find/sub");
        await cluster.WriteAsync("/find/small.txt", 10, FileLayout.Raid0(stripeCount: 1));
        await cluster.WriteAsync("/find/big.bin", 2 << 20, FileLayout.Raid0(stripeCount: 1));
        await cluster.WriteAsync("/find/sub/wide.bin", 100, FileLayout.Raid0(stripeCount: 4));

        async Task<string[]> Find(params string[] filters) =>
            [.. (await cluster.RunAsync(["lfs", "find", "/find", .. filters])).ShouldSucceed().Lines.Order(StringComparer.Ordinal)];

        Assert.Equal(["/find", "/find/big.bin", "/find/small.txt", "/find/sub", "/find/sub/wide.bin"], await Find());
        Assert.Equal(["/find/big.bin", "/find/sub/wide.bin"], await Find("--name", "*.bin"));
        Assert.Equal(["/find", "/find/sub"], await Find("--type", "d"));
        Assert.Equal(["/find/big.bin"], await Find("--size", "+1M"));
        // As lfs and find(1): -N is "less than N units after rounding up", so -2K is 1 KiB or less and -1K only empty files.
        Assert.Equal(["/find/small.txt", "/find/sub/wide.bin"], await Find("--type", "f", "--size", "-2K"));
        Assert.Empty(await Find("--type", "f", "--size", "-1K"));
        Assert.Equal(["/find/big.bin"], await Find("--size", "2M"));
        Assert.Equal(["/find/sub/wide.bin"], await Find("--stripe-count", "4"));

        // A directory without a default layout counts 0 stripes, as lfs's faked default does.
        Assert.Equal(["/find", "/find/big.bin", "/find/small.txt", "/find/sub"], await Find("--stripe-count", "-2"));
        Assert.Equal(["/find/big.bin", "/find/small.txt", "/find/sub/wide.bin"], await Find("--type", "f", "--mtime", "-1"));
        Assert.Empty(await Find("--mtime", "+1"));
        Assert.Equal(["/find", "/find/big.bin", "/find/small.txt", "/find/sub"], await Find("--maxdepth", "1"));
    }

    [Fact]
    public async Task Migrate_keeps_the_bytes_and_changes_the_layout()
    {
        var data = await cluster.WriteAsync("/migrate.bin", (5 << 20) + 123, FileLayout.Raid0(stripeCount: 1));
        var before = await cluster.Client.GetInfoAsync("/migrate.bin");

        (await cluster.RunAsync("lfs", "migrate", "-c", "4", "-S", "64K", "/migrate.bin")).ShouldSucceed();

        var after = await cluster.Client.GetInfoAsync("/migrate.bin");
        Assert.Equal(4, after.Layout!.Components[0].StripeCount);
        Assert.Equal(64 << 10, after.Layout.Components[0].StripeSize);
        Assert.Equal(data.Length, after.Length);
        Assert.Equal(before.LastWriteTime, after.LastWriteTime);
        Assert.Equal(before.Fid, after.Fid);
        Assert.Equal(data, await cluster.ReadAsync("/migrate.bin"));
        Assert.Equal("4", (await cluster.RunAsync("lfs", "getstripe", "-c", "/migrate.bin")).ShouldSucceed().Output.Trim());
    }

    [Fact]
    public async Task Migrate_non_block_refuses_a_file_open_for_writing_and_block_with_non_block_is_a_usage_error()
    {
        var data = await cluster.WriteAsync("/migrate-busy.bin", (1 << 20) + 5, FileLayout.Raid0(stripeCount: 1));
        await using (var writer = await cluster.Client.OpenFileAsync("/migrate-busy.bin", FileMode.Open, FileAccess.ReadWrite))
        {
            var busy = await cluster.RunAsync("lfs", "migrate", "-n", "-c", "2", "/migrate-busy.bin");
            Assert.Equal(1, busy.ExitCode);
            Assert.Equal(
                "lfs: migrate: '/migrate-busy.bin': it is open for writing, and a non-blocking migration does not start while it is (a blocking one holds new writers off and waits for these to close) (Device or resource busy)",
                busy.Error.Trim());
        }

        var both = await cluster.RunAsync("lfs", "migrate", "-b", "-n", "/migrate-busy.bin");
        Assert.Equal(2, both.ExitCode);
        Assert.Equal("lfs: migrate: options --non-block and --block are mutually exclusive", both.Error.Trim());

        (await cluster.RunAsync("lfs", "migrate", "--non-block", "-c", "2", "/migrate-busy.bin")).ShouldSucceed();
        Assert.Equal(2, (await cluster.Client.GetInfoAsync("/migrate-busy.bin")).Layout!.Components[0].StripeCount);
        Assert.Equal(data, await cluster.ReadAsync("/migrate-busy.bin"));
    }

    [GeneratedRegex(@"^filesystem_summary:\s+\d+\.\d[BKMGTPE]\s+\d+\.\d[BKMGTPE]\s+\d+\.\d[BKMGTPE]\s+\d+% /lustre$")]
    private static partial Regex HumanSize();
}
