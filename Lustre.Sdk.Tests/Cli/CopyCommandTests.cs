using Lustre.Cli;

namespace Lustre.Tests.Cli;

public sealed class CopyCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>, IDisposable
{
    private readonly TempFolder _local = new("lustre-cp-");

    public void Dispose() => _local.Dispose();

    [Fact]
    public async Task Cp_round_trips_a_directory_tree_byte_identical()
    {
        var source = Path.Combine(_local.Path, "tree");
        var files = new Dictionary<string, int>
        {
            ["big.bin"] = (40 << 20) + 4097, // several 16 MiB chunks and a ragged tail
            ["empty"] = 0,
            ["a/hello.txt"] = 14,
            ["a/b/c/mid.bin"] = 3 << 20,
            ["a/b/one"] = 1,
        };
        foreach (var (name, length) in files)
        {
            var path = Path.Combine(source, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var data = new byte[length];
            new Random(length).NextBytes(data);
            await File.WriteAllBytesAsync(path, data);
        }

        Directory.CreateDirectory(Path.Combine(source, "a", "emptydir"));
        (await cluster.RunAsync("mkdir", "/cp")).ShouldSucceed();

        var up = (await cluster.RunAsync("cp", "-r", source, "lustre:/cp")).ShouldSucceed();
        var back = Path.Combine(_local.Path, "back");
        var down = (await cluster.RunAsync("cp", "-r", "lustre:/cp/tree", back)).ShouldSucceed();

        foreach (var (name, length) in files)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(source, name)), await File.ReadAllBytesAsync(Path.Combine(back, name)));
            Assert.Equal(length, (await cluster.Client.GetInfoAsync("/cp/tree/" + name)).Length);
        }

        Assert.True(Directory.Exists(Path.Combine(back, "a", "emptydir")));
        Assert.Equal(files.Count, Directory.GetFiles(back, "*", SearchOption.AllDirectories).Length);

        // Redirected output: one plain line per file and a summary, no progress bar escapes.
        Assert.Equal(files.Count + 1, up.Lines.Length);
        Assert.Contains($"'{Path.Combine(source, "big.bin")}' -> 'lustre:/cp/tree/big.bin' {(40 << 20) + 4097} bytes", up.Output, StringComparison.Ordinal);
        Assert.StartsWith($"copied {files.Count} files", down.Lines[^1], StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', up.Output);
    }

    [Fact]
    public async Task Cp_copies_single_files_both_ways_and_within_the_cluster()
    {
        var local = Path.Combine(_local.Path, "one.bin");
        var data = new byte[(5 << 20) + 3];
        new Random(5).NextBytes(data);
        await File.WriteAllBytesAsync(local, data);

        (await cluster.RunAsync("cp", local, "lustre:/single.bin")).ShouldSucceed();
        (await cluster.RunAsync("cp", "lustre:/single.bin", "lustre:/single-copy.bin")).ShouldSucceed();
        (await cluster.RunAsync("cp", "lustre:/single-copy.bin", Path.Combine(_local.Path, "two.bin"))).ShouldSucceed();

        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(_local.Path, "two.bin")));
    }

    [Fact]
    public async Task Cp_of_a_directory_without_r_is_refused()
    {
        Directory.CreateDirectory(Path.Combine(_local.Path, "dir"));

        var result = await cluster.RunAsync("cp", Path.Combine(_local.Path, "dir"), "lustre:/dir-no-r");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("-r not specified; omitting directory", result.Error, StringComparison.Ordinal);
        Assert.False(await cluster.Client.ExistsAsync("/dir-no-r"));
    }

    [Fact]
    public void Cp_of_the_cluster_root_into_a_local_directory_targets_that_directory()
    {
        // The root has no name of its own: its entries go into the directory, as cp -r / DIR does, and never to the
        // local root (which the name "/" once made the target).
        var root = CopyLocation.Parse("lustre:/", () => cluster.Client);
        var local = CopyLocation.Parse(_local.Path, () => cluster.Client);

        Assert.Equal(_local.Path, local.Child(root.Name).Path);
    }
}
