using Lustre.Namespace;

namespace Lustre.Tests.Cli;

/// <summary>The careless call: cp, mv and rm never destroy data by mistake (coreutils' refusals and messages).</summary>
public sealed class SafetyTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>, IDisposable
{
    private readonly TempFolder _local = new("lustre-safety-");

    public void Dispose() => _local.Dispose();

    private async Task<byte[]> WriteAsync(string path, int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        await using var file = await cluster.Client.OpenFileAsync(path, FileMode.CreateNew);
        await file.WriteAtAsync(0, data);
        await file.FlushAsync();
        return data;
    }

    private async Task<byte[]> ReadAsync(string path)
    {
        await using var file = await cluster.Client.OpenFileAsync(path);
        var data = new byte[file.Length];
        Assert.Equal(data.Length, await file.ReadAtAsync(0, data));
        return data;
    }

    private static void ShouldFailWith(CliResult result, string expected)
    {
        Assert.True(result.ExitCode == 1, $"exit {result.ExitCode}\nstderr:\n{result.Error}");
        Assert.Equal(expected, result.Error.Trim());
    }

    [Theory]
    [InlineData("lustre:/same/f", "lustre:/same/f", "lustre:/same/f")]
    [InlineData("lustre:/same/f", "lustre://same/./f", "lustre:/same/f")]
    [InlineData("lustre:/same/f", "lustre:/same", "lustre:/same/f")]
    [InlineData("lustre:/same/f", "lustre:/same/sub/..", "lustre:/same/f")]
    public async Task Cp_of_a_file_onto_itself_is_refused_and_the_file_is_untouched(string source, string destination, string target)
    {
        await DirectoryTree.CreateAsync(cluster.Client, "/same", default);
        if (!await cluster.Client.ExistsAsync("/same/f"))
        {
            await WriteAsync("/same/f", 3_000_000);
        }

        var before = await ReadAsync("/same/f");

        var result = await cluster.RunAsync("cp", source, destination);

        ShouldFailWith(result, $"lustre: cp: 'lustre:/same/f' and '{target}' are the same file");
        Assert.Empty(result.Output);
        Assert.Equal(before, await ReadAsync("/same/f"));
    }

    [Fact]
    public async Task Cp_r_of_a_directory_onto_itself_is_refused_and_its_files_are_untouched()
    {
        await cluster.Client.CreateDirectoryAsync("/dd");
        var data = await WriteAsync("/dd/a", 1 << 20);

        ShouldFailWith(await cluster.RunAsync("cp", "-r", "lustre:/dd", "lustre:/"), "lustre: cp: 'lustre:/dd' and 'lustre:/dd' are the same file");
        Assert.Equal(data, await ReadAsync("/dd/a"));
    }

    [Fact]
    public async Task Cp_r_of_a_directory_into_its_own_subtree_is_refused()
    {
        await cluster.Client.CreateDirectoryAsync("/d");
        await cluster.Client.CreateDirectoryAsync("/d/sub");
        await WriteAsync("/d/a", 10);

        ShouldFailWith(await cluster.RunAsync("cp", "-r", "lustre:/d", "lustre:/d/sub"), "lustre: cp: cannot copy a directory, 'lustre:/d', into itself, 'lustre:/d/sub/d'");
        ShouldFailWith(await cluster.RunAsync("cp", "-r", "lustre:/d", "lustre:/d/sub/new"), "lustre: cp: cannot copy a directory, 'lustre:/d', into itself, 'lustre:/d/sub/new'");
        Assert.Empty(await cluster.Client.EnumerateDirectoryAsync("/d/sub").ToListAsync());
    }

    [Fact]
    public async Task Mv_onto_itself_or_into_its_own_subtree_is_refused()
    {
        await cluster.Client.CreateDirectoryAsync("/m");
        await cluster.Client.CreateDirectoryAsync("/m/sub");
        await WriteAsync("/m/f", 10);

        ShouldFailWith(await cluster.RunAsync("mv", "/m/f", "/m/f"), "lustre: mv: '/m/f' and '/m/f' are the same file");
        ShouldFailWith(await cluster.RunAsync("mv", "/m/f", "/m"), "lustre: mv: '/m/f' and '/m/f' are the same file");
        ShouldFailWith(await cluster.RunAsync("mv", "/m", "/m/sub"), "lustre: mv: cannot move '/m' to a subdirectory of itself, '/m/sub/m'");
        Assert.True(await cluster.Client.ExistsAsync("/m/f"));
    }

    [Theory]
    [InlineData("/")]
    [InlineData("//")]
    [InlineData("/.")]
    [InlineData("lustre:/")]
    [InlineData("/x/..")]
    public async Task Rm_r_of_the_root_is_refused_however_it_is_spelt(string root)
    {
        await DirectoryTree.CreateAsync(cluster.Client, "/keep", default);

        var result = await cluster.RunAsync("rm", "-r", "-f", root);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            [$"lustre: rm: it is dangerous to operate recursively on '{root}'{(root == "/" ? string.Empty : " (same as '/')")}", "lustre: rm: use --no-preserve-root to override this failsafe"],
            result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(await cluster.Client.ExistsAsync("/keep"));
    }

    [Fact]
    public async Task A_trailing_slash_names_a_directory_that_must_exist()
    {
        var local = Path.Combine(_local.Path, "f");
        await File.WriteAllBytesAsync(local, [1, 2, 3]);
        await WriteAsync("/plain", 3);

        ShouldFailWith(await cluster.RunAsync("cp", local, "lustre:/nodir/"), "lustre: cp: cannot create regular file 'lustre:/nodir/': Not a directory");
        ShouldFailWith(await cluster.RunAsync("cp", local, "lustre:/plain/"), "lustre: cp: failed to access 'lustre:/plain/': Not a directory");
        ShouldFailWith(await cluster.RunAsync("mv", "/plain", "/nodir/"), "lustre: mv: cannot move '/plain' to '/nodir/': Not a directory");
        Assert.False(await cluster.Client.ExistsAsync("/nodir"));
        Assert.Equal(3, (await cluster.Client.GetInfoAsync("/plain")).Length);
    }

    [Fact]
    public async Task An_argument_that_is_not_valid_UTF8_is_refused_before_anything_is_done()
    {
        // Bytes, not a string: bash builds the argument, so it reaches lustre exactly as a user's shell passes it.
        var result = await CliProcess.RunInShellAsync("exec \"$0\" \"$1\" mkdir /utf8-ok \"$(printf '/bad\\377name')\" --mgs \"$2\"", cluster.Address);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal("lustre: argument 3 is not valid UTF-8: '/bad\\xFFname' (nothing was done)", result.Error.Trim());
        Assert.False(await cluster.Client.ExistsAsync("/utf8-ok"));
    }
}
