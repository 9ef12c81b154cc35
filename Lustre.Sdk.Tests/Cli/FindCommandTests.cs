using System.Globalization;
using Lustre.Layouts;

namespace Lustre.Tests.Cli;

/// <summary><c>lustre lfs find</c> with lfs's own arguments, against an embedded cluster.</summary>
public sealed class FindCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>, IDisposable
{
    private readonly TempFolder _local = new("lustre-find-");

    public void Dispose() => _local.Dispose();

    private async Task<string[]> Find(params string[] args) =>
        [.. (await cluster.RunAsync(["lfs", "find", .. args])).ShouldSucceed().Lines.Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Io500_find_phase_runs_with_its_own_arguments()
    {
        // IO500's external find: DATADIR -newer RESDIR/timestampfile -size 3901c -name "*01*", with the timestamp
        // file in the results folder on the local filesystem, made before the write phases.
        var timestamp = Path.Combine(_local.Path, "timestampfile");
        await File.WriteAllTextAsync(timestamp, string.Empty);
        var start = DateTime.UtcNow.AddMinutes(-10);
        File.SetLastWriteTimeUtc(timestamp, start);

        await cluster.Client.CreateDirectoryAsync("/io500");
        foreach (var dir in new[] { "ior-easy", "mdtest-easy", "mdtest-hard" })
        {
            await cluster.Client.CreateDirectoryAsync($"/io500/{dir}");
        }

        var expected = new List<string>();
        for (var i = 0; i < 120; i++)
        {
            var path = string.Create(CultureInfo.InvariantCulture, $"/io500/mdtest-hard/file.mdtest.{i:D3}");
            await cluster.WriteAsync(path, 3901, layout: null);
            if (path[(path.LastIndexOf('/') + 1)..].Contains("01", StringComparison.Ordinal))
            {
                expected.Add(path);
            }

            await cluster.Client.CreateFileAsync(string.Create(CultureInfo.InvariantCulture, $"/io500/mdtest-easy/file.mdtest.{i:D3}"));
        }

        await cluster.WriteAsync("/io500/ior-easy/ior_file_easy.00000001", 3 << 20, FileLayout.Raid0(stripeCount: 4));
        await cluster.WriteAsync("/io500/mdtest-hard/wrong-size.01", 3900, layout: null);
        await cluster.Client.CreateDirectoryAsync("/io500/mdtest-hard/dir.01");

        // Same name and size, but last written before the timestamp file: not newer.
        await cluster.WriteAsync("/io500/mdtest-hard/old.01", 3901, layout: null);
        await cluster.Client.SetTimesAsync("/io500/mdtest-hard/old.01", null, start.AddHours(-1));

        var found = await Find("/io500", "-newer", timestamp, "-size", "3901c", "-name", "*01*");

        Assert.Equal(expected.Order(StringComparer.Ordinal), found);
        Assert.Equal(12, found.Length); // file.mdtest.001, .010 to .019, .101
    }

    [Fact]
    public async Task Sizes_count_512_byte_blocks_without_a_unit()
    {
        await cluster.Client.CreateDirectoryAsync("/units");
        await cluster.Client.CreateFileAsync("/units/empty");
        await cluster.WriteAsync("/units/1000", 1000, layout: null);
        await cluster.WriteAsync("/units/1024", 1024, layout: null);
        await cluster.WriteAsync("/units/1025", 1025, layout: null);

        // 1000 and 1024 bytes round up to 2 blocks of 512, 1025 to 3.
        Assert.Equal(["/units/1000", "/units/1024"], await Find("/units", "-size", "2"));
        Assert.Equal(["/units/1025"], await Find("/units", "-type", "f", "-size", "+2"));
        Assert.Equal(["/units/1000"], await Find("/units", "-size", "1000c"));
        Assert.Equal(["/units/1000", "/units/1024"], await Find("/units", "-size", "1k"));
        Assert.Equal(["/units/1025"], await Find("/units", "-size", "+1k"));
        Assert.Equal(["/units", "/units/empty"], await Find("/units", "-size", "-1k"));
        Assert.Equal(["/units/1000", "/units/1024", "/units/1025"], await Find("/units", "-type", "f", "!", "-size", "-1k"));
    }

    [Fact]
    public async Task Negation_owner_group_layout_and_component_count_select_as_lfs()
    {
        await cluster.Client.CreateDirectoryAsync("/who");
        await cluster.WriteAsync("/who/mine", 10, FileLayout.Raid0());
        await cluster.WriteAsync("/who/theirs", 10, FileLayout.Composite([new LayoutComponent(0, 1 << 20, 1 << 20, 1), new LayoutComponent(1 << 20, LayoutComponent.Eof, 1 << 20, 2)]));
        await cluster.Client.SetOwnerAsync("/who/theirs", 1234, 5678);

        Assert.Equal(["/who/theirs"], await Find("/who", "-uid", "1234"));
        Assert.Equal(["/who/theirs"], await Find("/who", "--user", "1234"));
        Assert.Equal(["/who/theirs"], await Find("/who", "-G", "5678"));
        Assert.Equal(["/who", "/who/mine"], await Find("/who", "!", "-gid", "5678"));
        Assert.Equal(["/who/mine", "/who/theirs"], await Find("/who", "-layout", "raid0"));

        // A directory without a default layout has no pattern: it fails -layout, negated or not, as in lfs.
        Assert.Empty(await Find("/who", "!", "-L", "raid0"));
        Assert.Equal(["/who/theirs"], await Find("/who", "-component-count", "2"));
        Assert.Equal(["/who", "/who/mine"], await Find("/who", "-comp-count", "-1"));

        var refused = await cluster.RunAsync("lfs", "find", "/who", "-user", "alice");
        Assert.Equal(2, refused.ExitCode);
        Assert.Equal("lfs: find: invalid username/UID 'alice': give a number (user and group names are not resolved here)", refused.Error.Trim());
    }

    [Fact]
    public async Task Ost_finds_files_with_an_object_there()
    {
        await cluster.Client.CreateDirectoryAsync("/on");
        await cluster.WriteAsync("/on/two", 10, FileLayout.Raid0(stripeCount: 1, stripeOffset: 2));
        await cluster.WriteAsync("/on/zero-one", 10, FileLayout.Raid0(stripeCount: 2, stripeOffset: 0));
        Assert.Equal(2, (await cluster.Client.GetInfoAsync("/on/two")).Layout!.Components[0].Objects[0].OstIndex);
        var zeroOne = (await cluster.Client.GetInfoAsync("/on/zero-one")).Layout!.Components[0].Objects.Select(o => o.OstIndex).Order().ToArray();
        Assert.Equal([0, 1], zeroOne);

        Assert.Equal(["/on/two"], await Find("/on", "--ost", "2"));
        Assert.Equal(["/on/two"], await Find("/on", "-O", "lustre-OST0002_UUID"));
        Assert.Equal(["/on/two", "/on/zero-one"], await Find("/on", "-ost", "1-2"));
        Assert.Equal(["/on/zero-one"], await Find("/on", "-i", "OST0000,OST0003"));

        // Directories have no objects: they fail --ost negated too.
        Assert.Equal(["/on/zero-one"], await Find("/on", "!", "--ost", "2"));
    }

    [Fact]
    public async Task Times_newer_depths_and_print0()
    {
        await cluster.Client.CreateDirectoryAsync("/age");
        await cluster.Client.CreateDirectoryAsync("/age/sub");
        await cluster.Client.CreateFileAsync("/age/new");
        await cluster.Client.CreateFileAsync("/age/sub/deep");
        await cluster.Client.CreateFileAsync("/age/old");
        var old = DateTimeOffset.UtcNow.AddDays(-3).AddHours(-1);
        await cluster.Client.SetTimesAsync("/age/old", old, old);

        Assert.Equal(["/age/old"], await Find("/age", "-mtime", "+2"));
        Assert.Equal(["/age/old"], await Find("/age", "-mtime", "3"));
        Assert.Equal(["/age/old"], await Find("/age", "-atime", "+70h"));
        Assert.Equal(["/age/new", "/age/sub/deep"], await Find("/age", "-type", "f", "-atime", "-1d"));
        Assert.Equal(["/age/new", "/age/sub/deep"], await Find("/age", "-type", "f", "!", "-mtime", "+1"));

        // Setting the times changed the ctime of /age/old to now.
        Assert.Equal(["/age/new", "/age/old", "/age/sub/deep"], await Find("/age", "-type", "f", "-ctime", "-5m"));

        // --newer: a cluster file, a local file, a date.
        Assert.Equal(["/age/new", "/age/sub/deep"], await Find("/age", "-type", "f", "-newer", "/age/old"));
        Assert.Equal(["/age/new", "/age/sub/deep"], await Find("/age", "-type", "f", "-newer", "lustre:/age/old"));
        var local = Path.Combine(_local.Path, "ref");
        await File.WriteAllTextAsync(local, string.Empty);
        File.SetLastWriteTimeUtc(local, DateTime.UtcNow.AddDays(-2));
        Assert.Equal(["/age/new", "/age/sub/deep"], await Find("/age", "-type", "f", "-newer", local));
        var date = old.AddHours(1).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        Assert.Equal(["/age/new", "/age/sub/deep"], await Find("/age", "-type", "f", "-newerat", date));
        Assert.Equal(["/age/old"], await Find("/age", "-type", "f", "!", "-newermt", date));

        Assert.Equal(["/age/new", "/age/old", "/age/sub"], await Find("/age", "-mindepth", "1", "-maxdepth", "1"));
        Assert.Equal(["/age/sub/deep"], await Find("/age", "--mindepth", "2"));

        var zero = (await cluster.RunAsync("lfs", "find", "/age/sub", "-print0")).ShouldSucceed();
        Assert.Equal("/age/sub\0/age/sub/deep\0", zero.Output);

        var missing = await cluster.RunAsync("lfs", "find", "/age", "-newer", "/age/nope");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("lfs: find: cannot stat file '/age/nope': No such file or directory", missing.Error.Trim());
        Assert.Empty(missing.Output);
    }

    [Fact]
    public async Task Syntax_errors_exit_1_and_bad_values_exit_2_before_anything_is_printed()
    {
        await cluster.Client.CreateDirectoryAsync("/syntax");

        var unknown = await cluster.RunAsync("lfs", "find", "/syntax", "-xyz");
        Assert.Equal((1, "lfs: find: unrecognized option '-xyz'"), (unknown.ExitCode, unknown.Error.Trim()));
        Assert.Empty(unknown.Output);

        // As getopt_long_only: not a long option, so -b (lfs's --blocks) with the value "ogus".
        var bundled = await cluster.RunAsync("lfs", "find", "/syntax", "-bogus");
        Assert.Equal((1, "lfs: find: '-b' (--blocks) of lfs find is not supported here"), (bundled.ExitCode, bundled.Error.Trim()));

        var projid = await cluster.RunAsync("lfs", "find", "/syntax", "--projid", "7");
        Assert.Equal((1, "lfs: find: '--projid' of lfs find is not supported here: there are no project ids"), (projid.ExitCode, projid.Error.Trim()));

        var size = await cluster.RunAsync("lfs", "find", "/syntax", "-size", "3q");
        Assert.Equal(2, size.ExitCode);
        Assert.StartsWith("lfs: find: bad file size '3q'", size.Error, StringComparison.Ordinal);
        Assert.Empty(size.Output);
    }
}
