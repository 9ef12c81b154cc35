using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Namespace;

/// <summary><see cref="LustreClient.AddLayoutComponentsAsync"/> and the deletes: <c>lfs setstripe --component-add/--component-del</c> from the SDK.</summary>
[Collection(ClusterCollection.Name)]
public sealed class LayoutComponentApiTests(ClusterFixture fixture)
{
    private const long K64 = 64 << 10;
    private const long M = 1 << 20;

    private LustreClient Client => fixture.Client;

    /// <summary>A file created with [0, 1M) on one OST and [1M, 4M) on two, ending there.</summary>
    private async Task<string> ShortFileAsync()
    {
        var path = await fixture.NewDirectoryAsync() + "/f";
        await Client.CreateFileAsync(path, FileLayout.Composite([new LayoutComponent(0, M, K64, 1), new LayoutComponent(M, 4 * M, K64, 2)]));
        return path;
    }

    [Fact]
    public async Task Added_components_extend_the_file_and_get_objects_when_written()
    {
        var path = await ShortFileAsync();

        var layout = await Client.AddLayoutComponentsAsync(path, [new LayoutComponent(4 * M, 16 * M, K64, 3), new LayoutComponent(16 * M, LayoutComponent.Eof, 0, 0)]);

        Assert.Equal([M, 4 * M, 16 * M, LayoutComponent.Eof], layout.Components.Select(c => c.End));
        Assert.Equal([true, false, false, false], layout.Components.Select(c => c.IsInstantiated));
        Assert.Equal((LayoutDefaults.DefaultStripeSize, 1), (layout.Components[3].StripeSize, layout.Components[3].StripeCount));
        Assert.Equal(1u, layout.Generation);

        await using (var file = await Client.OpenFileAsync(path))
        {
            await file.WriteAtAsync(5 * M, new byte[1000]);
        }

        var written = (await Client.GetInfoAsync(path)).Layout!;
        Assert.Equal([true, true, true, false], written.Components.Select(c => c.IsInstantiated));
        Assert.Equal(3, written.Components[2].Objects.Count);
    }

    [Fact]
    public async Task Deleting_the_last_components_without_objects_shortens_the_layout()
    {
        var path = await ShortFileAsync();
        await Client.AddLayoutComponentsAsync(path, [new LayoutComponent(4 * M, 8 * M, K64, 1), new LayoutComponent(8 * M, LayoutComponent.Eof, K64, 1)]);

        var byId = await Client.DeleteLayoutComponentAsync(path, 4);
        Assert.Equal(8 * M, byId.End);

        var byFlags = await Client.DeleteUninstantiatedLayoutComponentsAsync(path);
        Assert.Equal(M, byFlags.End);
        Assert.True(Assert.Single(byFlags.Components).IsInstantiated);
        Assert.Equal(3u, byFlags.Generation);
    }

    [Fact]
    public async Task Refusals_name_the_reason_and_change_nothing()
    {
        var path = await ShortFileAsync();
        var dir = path[..path.LastIndexOf('/')];
        var before = (await Client.GetInfoAsync(path)).Layout!;

        var gap = await Assert.ThrowsAsync<LustreServerException>(() => Client.AddLayoutComponentsAsync(path, [new LayoutComponent(8 * M, LayoutComponent.Eof, K64, 1)]));
        var hole = await Assert.ThrowsAsync<ArgumentException>(() => Client.AddLayoutComponentsAsync(path, [new LayoutComponent(4 * M, 8 * M, K64, 1), new LayoutComponent(9 * M, LayoutComponent.Eof, K64, 1)]));
        var objects = await Assert.ThrowsAsync<ArgumentException>(() => Client.AddLayoutComponentsAsync(path, [new LayoutComponent(4 * M, LayoutComponent.Eof, K64, 1).WithObjects([new OstObject(0, 1)])]));
        var written = await Assert.ThrowsAsync<LustreServerException>(() => Client.DeleteLayoutComponentAsync(path, 1));
        var directory = await Assert.ThrowsAsync<LustreException>(() => Client.DeleteLayoutComponentAsync(dir, 1));

        Assert.Equal(LustreErrno.EINVAL, gap.Errno);
        Assert.Contains("must start there", gap.ServerMessage, StringComparison.Ordinal);
        Assert.Equal("components", hole.ParamName);
        Assert.Equal("components", objects.ParamName);
        Assert.Equal(LustreErrno.EINVAL, written.Errno);
        Assert.Equal(LustreErrno.EISDIR, directory.Errno);
        var after = (await Client.GetInfoAsync(path)).Layout!;
        Assert.Equal(before.Generation, after.Generation);
        Assert.Equal(before.Components.Select(c => c.End), after.Components.Select(c => c.End));

        // A plain file, and one whose last component reaches EOF.
        await Client.CreateFileAsync(dir + "/plain", FileLayout.Raid0(K64, 1));
        var plain = await Assert.ThrowsAsync<LustreServerException>(() => Client.AddLayoutComponentsAsync(dir + "/plain", [new LayoutComponent(4 * M, LayoutComponent.Eof, K64, 1)]));
        await Client.AddLayoutComponentsAsync(path, [new LayoutComponent(4 * M, LayoutComponent.Eof, K64, 1)]);
        var full = await Assert.ThrowsAsync<LustreServerException>(() => Client.AddLayoutComponentsAsync(path, [new LayoutComponent(4 * M, LayoutComponent.Eof, K64, 1)]));
        Assert.Contains("not a composite", plain.ServerMessage, StringComparison.Ordinal);
        Assert.Contains("already extends to EOF", full.ServerMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mirrored_file_is_refused_with_EBUSY()
    {
        var path = await fixture.NewDirectoryAsync() + "/m";
        await Client.CreateFileAsync(path, FileLayout.Mirrored(2, FileLayout.Composite([new LayoutComponent(0, M, K64, 1), new LayoutComponent(M, 2 * M, K64, 1)])));

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.AddLayoutComponentsAsync(path, [new LayoutComponent(2 * M, LayoutComponent.Eof, K64, 1)]));

        Assert.Equal(LustreErrno.EBUSY, ex.Errno);
    }
}
