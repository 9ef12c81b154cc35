namespace Lustre.Tests.Cli;

/// <summary><c>rm -r --no-preserve-root /</c> empties the filesystem (its own cluster: it removes everything).</summary>
public sealed class NoPreserveRootTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Rm_r_no_preserve_root_removes_everything_under_the_root_and_succeeds()
    {
        (await cluster.RunAsync("mkdir", "-p", "/a/b")).ShouldSucceed();
        (await cluster.RunAsync("touch", "/a/b/f", "/g")).ShouldSucceed();

        (await cluster.RunAsync("rm", "-r", "--no-preserve-root", "/")).ShouldSucceed();

        Assert.Empty((await cluster.RunAsync("ls", "/")).ShouldSucceed().Output);
    }
}
