using Lustre.Layouts;

namespace Lustre.Tests.Cli;

/// <summary><c>lfs find --mirror-count</c> and <c>--mirror-state</c>.</summary>
public sealed class MirrorFindTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Find_matches_mirror_count_and_state_as_lfs()
    {
        await cluster.Client.CreateDirectoryAsync("/find-mirrors");
        await cluster.WriteAsync("/find-mirrors/plain", 10, FileLayout.Raid0());
        await cluster.WriteAsync("/find-mirrors/pfl", 10, FileLayout.Composite([new LayoutComponent(0, 1L << 20, 1L << 20, 1), new LayoutComponent(1L << 20, LayoutComponent.Eof, 1L << 20, 1)]));
        await cluster.WriteAsync("/find-mirrors/two", 10, FileLayout.Mirrored(2, FileLayout.Raid0()));
        await cluster.WriteAsync("/find-mirrors/three", 10, FileLayout.Mirrored(3, FileLayout.Raid0()));
        await using var writer = await cluster.MarkStaleAsync("/find-mirrors/three", 3);

        async Task<string[]> Find(params string[] filters) =>
            [.. (await cluster.RunAsync(["lfs", "find", "/find-mirrors", .. filters])).ShouldSucceed().Lines.Order(StringComparer.Ordinal)];

        // As lfs, a plain layout has no mirror count: only composite ones (PFL or mirrored) match.
        Assert.Equal(["/find-mirrors/pfl"], await Find("--mirror-count", "1"));
        Assert.Equal(["/find-mirrors/two"], await Find("-N", "2"));
        Assert.Equal(["/find-mirrors/three", "/find-mirrors/two"], await Find("--mirror-count", "+1"));
        Assert.Equal(["/find-mirrors/pfl", "/find-mirrors/two"], await Find("--mirror-count", "-3"));
        Assert.Equal(["/find-mirrors/two"], await Find("--mirror-state", "ro"));
        Assert.Equal(["/find-mirrors/three"], await Find("--mirror-state", "wp"));
        Assert.Equal(["/find-mirrors/pfl", "/find-mirrors/three"], await Find("--mirror-state", "^ro"));

        var bad = await cluster.RunAsync("lfs", "find", "/find-mirrors", "--mirror-state", "rw");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("lfs: find: bad mirrored file state 'rw': use ro, wp or sp, or ^STATE for files not in it", bad.Error.Trim());
    }
}
