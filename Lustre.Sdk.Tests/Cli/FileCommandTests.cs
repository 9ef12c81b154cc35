namespace Lustre.Tests.Cli;

public sealed class FileCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Mkdir_touch_ls_mv_cat_and_rm_work_on_cluster_paths()
    {
        (await cluster.RunAsync("mkdir", "-p", "lustre:/files/a/b")).ShouldSucceed();
        (await cluster.RunAsync("mkdir", "-p", "/files/a/b")).ShouldSucceed();
        Assert.Equal(1, (await cluster.RunAsync("mkdir", "/files/a/b")).ExitCode);
        (await cluster.RunAsync("touch", "/files/a/empty")).ShouldSucceed();
        var file = await cluster.Client.OpenFileAsync("/files/a/hello.txt", FileMode.CreateNew);
        await using (file)
        {
            await file.WriteAtAsync(0, "hello, lustre\n"u8.ToArray());
        }

        Assert.Equal(["b", "empty", "hello.txt"], (await cluster.RunAsync("ls", "/files/a")).ShouldSucceed().Lines);
        var longListing = (await cluster.RunAsync("ls", "-l", "/files/a")).ShouldSucceed().Lines;
        Assert.StartsWith("drwxr-xr-x", longListing[0], StringComparison.Ordinal);
        Assert.Matches(@"^-rw-r--r--\s+1\s+0\s+0\s+14 \w{3} \d{2} \d{2}:\d{2} hello.txt$", longListing[2]);

        Assert.Equal("hello, lustre\n", (await cluster.RunAsync("cat", "/files/a/hello.txt")).ShouldSucceed().Output);
        Assert.Contains("  Size: 14", (await cluster.RunAsync("stat", "/files/a/hello.txt")).ShouldSucceed().Output, StringComparison.Ordinal);

        (await cluster.RunAsync("mv", "/files/a/hello.txt", "/files/a/b")).ShouldSucceed();
        Assert.Equal(["hello.txt"], (await cluster.RunAsync("ls", "/files/a/b")).ShouldSucceed().Lines);

        var notRecursive = await cluster.RunAsync("rm", "/files/a");
        Assert.Equal("lustre: rm: '/files/a': Is a directory", notRecursive.Error.Trim());
        (await cluster.RunAsync("rm", "-r", "/files/a")).ShouldSucceed();
        Assert.False(await cluster.Client.ExistsAsync("/files/a"));
        (await cluster.RunAsync("rm", "-f", "/files/a")).ShouldSucceed();
    }

    [Fact]
    public async Task Touch_on_an_existing_file_moves_its_modification_time_forward()
    {
        (await cluster.RunAsync("touch", "/touched")).ShouldSucceed();
        var past = DateTimeOffset.UtcNow.AddDays(-3);
        await cluster.Client.SetTimesAsync("/touched", past, past);

        (await cluster.RunAsync("touch", "/touched")).ShouldSucceed();

        Assert.True((await cluster.Client.GetInfoAsync("/touched")).LastWriteTime > DateTimeOffset.UtcNow.AddMinutes(-5));
    }
}
