using System.Text.RegularExpressions;
using Lustre.Cli;
using Lustre.Protocol;

namespace Lustre.Tests.Cli;

/// <summary><c>lustre lfs path2fid</c> and <c>lfs fid2path</c>.</summary>
public sealed partial class FidCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Path2fid_prints_fids_as_lfs()
    {
        await cluster.Client.CreateDirectoryAsync("/p2f");
        var file = await cluster.Client.CreateFileAsync("/p2f/file");
        var directory = await cluster.Client.GetInfoAsync("/p2f");

        var one = (await cluster.RunAsync("lfs", "path2fid", "/p2f/file")).ShouldSucceed();
        Assert.Equal(file.Fid.ToString(), one.Output.Trim());
        Assert.Matches(FidShape(), one.Output.Trim());

        Assert.Equal(["/p2f/file: " + file.Fid, "lustre:/p2f: " + directory.Fid], (await cluster.RunAsync("lfs", "path2fid", "/p2f/file", "lustre:/p2f")).ShouldSucceed().Lines);
        Assert.Equal("[0x200000007:0x1:0x0]", (await cluster.RunAsync("lfs", "path2fid", "/")).ShouldSucceed().Output.Trim());
        Assert.Equal($"{directory.Fid}/file", (await cluster.RunAsync("lfs", "path2fid", "--parents", "/p2f/file")).ShouldSucceed().Output.Trim());

        var missing = await cluster.RunAsync("lfs", "path2fid", "/p2f/nope", "/p2f/file");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("lfs: path2fid: cannot get fid for '/p2f/nope': No such file or directory", missing.Error.Trim());
        Assert.Equal(["/p2f/file: " + file.Fid], missing.Lines);
    }

    [Fact]
    public async Task Fid2path_walks_to_the_path_of_each_fid()
    {
        await cluster.Client.CreateDirectoryAsync("/f2p");
        await cluster.Client.CreateDirectoryAsync("/f2p/a");
        await cluster.Client.CreateDirectoryAsync("/f2p/a/b");
        var deep = await cluster.Client.CreateFileAsync("/f2p/a/b/deep");
        var shallow = await cluster.Client.CreateFileAsync("/f2p/shallow");

        Assert.Equal("f2p/a/b/deep", (await cluster.RunAsync("lfs", "fid2path", "lustre", deep.Fid.ToString())).ShouldSucceed().Output.Trim());
        Assert.Equal("/f2p/a/b/deep", (await cluster.RunAsync("lfs", "fid2path", "/", deep.Fid.ToString())).ShouldSucceed().Output.Trim());
        Assert.Equal("/", (await cluster.RunAsync("lfs", "fid2path", "lustre", "[0x200000007:0x1:0x0]")).ShouldSucceed().Output.Trim());

        // Several FIDs in one walk, without brackets, with -f, -c, -n and -0.
        var bare = deep.Fid.ToString()[1..^1];
        Assert.Equal([$"{bare} 0 deep", $"{shallow.Fid} 0 shallow"], (await cluster.RunAsync("lfs", "fid2path", "-f", "-c", "-n", "lustre", bare, shallow.Fid.ToString())).ShouldSucceed().Lines);
        Assert.Equal("f2p/a/b/deep\0f2p/shallow\0", (await cluster.RunAsync("lfs", "fid2path", "-0", "lustre", deep.Fid.ToString(), shallow.Fid.ToString())).ShouldSucceed().Output);

        // A FID is stable across a rename: the walk finds the new name.
        await cluster.Client.RenameAsync("/f2p/a/b/deep", "/f2p/moved");
        Assert.Equal("/f2p/moved", (await cluster.RunAsync("lfs", "fid2path", "lustre:/", deep.Fid.ToString())).ShouldSucceed().Output.Trim());

        var gone = new LustreFid(deep.Fid.Sequence, uint.MaxValue, 0);
        var missing = await cluster.RunAsync("lfs", "fid2path", "lustre", gone.ToString(), "nonsense", shallow.Fid.ToString());
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal([$"lfs: fid2path: invalid FID 'nonsense'", $"lfs: fid2path: cannot find lustre {gone}: No such file or directory"], missing.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["f2p/shallow"], missing.Lines);

        var elsewhere = await cluster.RunAsync("lfs", "fid2path", "scratch", shallow.Fid.ToString());
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.StartsWith("lfs: fid2path: cannot resolve mount point for 'scratch'", elsewhere.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_path_found_comes_back_from_its_fid()
    {
        await cluster.Client.CreateDirectoryAsync("/round");
        for (var d = 0; d < 3; d++)
        {
            await cluster.Client.CreateDirectoryAsync($"/round/d{d}");
            for (var f = 0; f < 4; f++)
            {
                await cluster.Client.CreateFileAsync($"/round/d{d}/f{f}");
            }
        }

        var paths = (await cluster.RunAsync("lfs", "find", "/round")).ShouldSucceed().Lines;
        Assert.Equal(1 + 3 + 12, paths.Length);
        var fids = new List<string>();
        foreach (var path in paths)
        {
            fids.Add((await cluster.RunAsync("lfs", "path2fid", path)).ShouldSucceed().Output.Trim());
        }

        Assert.Equal(paths, (await cluster.RunAsync(["lfs", "fid2path", "/", .. fids])).ShouldSucceed().Lines);
    }

    [Theory]
    [InlineData("[0x200000401:0x1:0x0]", 0x200000401UL, 1U, 0U)]
    [InlineData("0x200000401:0x2a:0x0", 0x200000401UL, 0x2aU, 0U)]
    [InlineData("200000401:2a:1", 0x200000401UL, 0x2aU, 1U)]
    public void Fids_parse_with_or_without_brackets(string text, ulong sequence, uint objectId, uint version) =>
        Assert.Equal(new LustreFid(sequence, objectId, version), FidCommands.TryParseFid(text));

    [Theory]
    [InlineData("")]
    [InlineData("[0x1:0x2]")]
    [InlineData("0x1:0x2:0x3:0x4")]
    [InlineData("0x1:0x100000000:0x0")]
    [InlineData("[0xg:0x1:0x0]")]
    public void Bad_fids_are_refused(string text) => Assert.Null(FidCommands.TryParseFid(text));

    [GeneratedRegex(@"^\[0x[0-9a-f]+:0x[0-9a-f]+:0x[0-9a-f]+\]$")]
    private static partial Regex FidShape();
}
