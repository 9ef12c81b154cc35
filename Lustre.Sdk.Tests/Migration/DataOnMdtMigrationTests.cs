using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Mirrors.MirrorFiles;

namespace Lustre.Tests.Migration;

/// <summary>
/// <c>lfs migrate</c> of Data-on-MDT files: out of DoM to an OST layout (the way to grow a file of a DoM component
/// alone), restriping the OST part while keeping the DoM component, and the migrations that are refused.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DataOnMdtMigrationTests(ClusterFixture cluster)
{
    private const int Dom = 64 << 10;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static FileLayout DomOnly(long dom = Dom) => FileLayout.Composite([LayoutComponent.DataOnMdt(dom)]);

    private static FileLayout DomThen(int stripes, long dom = Dom) =>
        FileLayout.Composite([LayoutComponent.DataOnMdt(dom), new LayoutComponent(dom, LayoutComponent.Eof, 64 << 10, stripes)]);

    private async Task<LustreFid> WriteAsync(string path, byte[] data, FileLayout layout)
    {
        await using var file = await cluster.Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        await file.WriteAtAsync(0, data);
        return file.Fid;
    }

    [Fact]
    public async Task A_full_Data_on_MDT_file_migrates_to_OSTs_keeping_its_FID_and_bytes_and_then_grows()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var data = RandomBytes(Dom, seed: 1);
        var fid = await WriteAsync(path, data, DomOnly());
        await using (var full = await cluster.Client.OpenFileAsync(path))
        {
            var refused = await Assert.ThrowsAsync<LustreException>(() => full.WriteAtAsync(Dom, new byte[1]).AsTask());
            Assert.Equal(LustreErrno.EFBIG, refused.Errno);
        }

        var migrated = await cluster.Client.MigrateAsync(path, FileLayout.Raid0(64 << 10, stripeCount: 2));

        Assert.Equal(fid, migrated.Fid);
        Assert.False(migrated.Layout!.HasDataOnMdt);
        Assert.Equal(data, await ReadAsync(cluster.Client, path));
        Assert.Equal(0, cluster.DataOnMdtChunks(fid));
        var objects = migrated.Layout.AllObjects().ToList();
        Assert.Equal(Dom, objects.Sum(o => File.Exists(cluster.ObjectPath(o)) ? new FileInfo(cluster.ObjectPath(o)).Length : 0));

        // Now it grows, on the OSTs.
        await using (var file = await cluster.Client.OpenFileAsync(path))
        {
            await file.WriteAtAsync(Dom, data);
        }

        Assert.Equal(data.Concat(data).ToArray(), await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task A_migration_may_restripe_the_OST_part_and_keep_the_Data_on_MDT_bytes_where_they_are()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var data = RandomBytes((3 * Dom) + 777, seed: 2);
        var fid = await WriteAsync(path, data, DomThen(stripes: 1));
        var before = await cluster.Client.GetInfoAsync(path);
        OstObject[] old = [.. before.Layout!.AllObjects()];

        var migrated = await cluster.Client.MigrateAsync(path, DomThen(stripes: 3));

        Assert.True(migrated.Layout!.Components[0].IsOnMdt);
        Assert.Equal(3, migrated.Layout.Components[1].Objects.Count);
        Assert.Equal(1, cluster.DataOnMdtChunks(fid));
        Assert.Equal(data, await ReadAsync(cluster.Client, path));
        await cluster.DestroyAndWaitAsync(old, Patience);
        Assert.Equal(data, await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task Migrating_into_Data_on_MDT_or_resizing_the_component_is_refused_and_changes_nothing()
    {
        var dir = await cluster.NewDirectoryAsync();
        var data = RandomBytes(5000, seed: 3);
        await WriteAsync($"{dir}/plain", data, FileLayout.Raid0(64 << 10, 1));
        await WriteAsync($"{dir}/dom", data, DomThen(stripes: 1));

        var into = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync($"{dir}/plain", DomThen(stripes: 1)));
        Assert.Equal(LustreErrno.EINVAL, into.Errno);
        Assert.Contains("into a Data-on-MDT layout", into.Message, StringComparison.Ordinal);
        var resized = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync($"{dir}/dom", DomThen(stripes: 1, dom: 2 * Dom)));
        Assert.Equal(LustreErrno.EINVAL, resized.Errno);

        Assert.False((await cluster.Client.GetInfoAsync($"{dir}/plain")).Layout!.HasDataOnMdt);
        Assert.Equal(data, await ReadAsync(cluster.Client, $"{dir}/plain"));
        Assert.Equal(Dom, (await cluster.Client.GetInfoAsync($"{dir}/dom")).Layout!.DataOnMdtEnd);
        Assert.Equal(data, await ReadAsync(cluster.Client, $"{dir}/dom"));

        var mirror = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.ExtendMirrorsAsync($"{dir}/dom", FileLayout.Raid0(64 << 10, 1)));
        Assert.Equal(LustreErrno.EINVAL, mirror.Errno);
    }
}
