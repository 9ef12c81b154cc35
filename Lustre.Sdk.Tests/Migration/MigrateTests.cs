using Lustre.Client;
using Lustre.Layouts;
using Lustre.Migration;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.IO;
using static Lustre.Tests.Mirrors.MirrorFiles;

namespace Lustre.Tests.Migration;

/// <summary>
/// <c>lfs migrate</c> as a layout swap (issue 24): the file keeps its FID, its bytes and times; the old objects are
/// destroyed; and a writer's data is never lost, whether the migration holds writers off (blocking, the default) or
/// fails when they come (non-blocking). The migrator's OST writes can be held at a gate, so a writer acts while the
/// copy is known to be running.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class MigrateTests(ClusterFixture cluster)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_migration_keeps_the_FID_bytes_and_times_and_destroys_the_old_objects()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var data = RandomBytes((9 << 20) + 123, seed: 1);
        await WriteAsync(path, data, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var before = await cluster.Client.GetInfoAsync(path);
        OstObject[] old = [.. before.Layout!.AllObjects()];

        var after = await cluster.Client.MigrateAsync(path, FileLayout.Raid0(256 << 10, stripeCount: 4));

        Assert.Equal(before.Fid, after.Fid);
        Assert.Equal(4, after.Layout!.Components[0].StripeCount);
        Assert.Equal(256 << 10, after.Layout.Components[0].StripeSize);
        Assert.Equal(before.Layout.Generation + 1, after.Layout.Generation);
        Assert.Empty(after.Layout.AllObjects().Intersect(old));
        var info = await cluster.Client.GetInfoAsync(path);
        Assert.Equal(after.Layout.ToString(), info.Layout!.ToString());
        Assert.Equal(data.Length, info.Length);
        Assert.Equal(before.LastWriteTime, info.LastWriteTime);
        Assert.Equal(before.LastAccessTime, info.LastAccessTime);
        Assert.Equal(data, await ReadAsync(cluster.Client, path));

        await cluster.DestroyAndWaitAsync(old, Patience);
        Assert.All(old, o => Assert.False(File.Exists(cluster.ObjectPath(o)), $"old object {o} is still on its OST"));
        Assert.All(info.Layout.AllObjects(), o => Assert.True(File.Exists(cluster.ObjectPath(o)), $"new object {o} is missing"));
        Assert.Equal(data, await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task Without_a_layout_the_file_takes_its_directory_default_and_an_empty_file_migrates()
    {
        var directory = await cluster.NewDirectoryAsync();
        await cluster.Client.SetDirectoryLayoutAsync(directory, FileLayout.Raid0(1 << 20, stripeCount: 3));
        var data = RandomBytes(5 << 20, seed: 2);
        await WriteAsync(directory + "/f", data, FileLayout.Raid0(1 << 20, stripeCount: 1));
        await WriteAsync(directory + "/empty", [], FileLayout.Raid0(1 << 20, stripeCount: 1));

        var migrated = await cluster.Client.MigrateAsync(directory + "/f", layout: null);
        var empty = await cluster.Client.MigrateAsync(directory + "/empty", layout: null);

        Assert.Equal(3, migrated.Layout!.Components[0].StripeCount);
        Assert.Equal(data, await ReadAsync(cluster.Client, directory + "/f"));
        Assert.Equal(3, empty.Layout!.Components[0].StripeCount);
        Assert.Equal(0, (await cluster.Client.GetInfoAsync(directory + "/empty")).Length);
    }

    [Fact]
    public async Task A_blocking_migration_holds_a_writer_off_during_the_copy_and_the_writer_then_writes_the_new_objects()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var model = RandomBytes(12 << 20, seed: 3);
        await WriteAsync(path, model, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var before = await cluster.Client.GetInfoAsync(path);
        var gate = new RpcGate();
        await using var migrator = GatedClient(gate);
        await using var writer = new LustreClient(cluster.Address);

        var migration = migrator.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 4));
        await gate.Reached.Task.WaitAsync(Patience);

        // The copy is running: an open for writing waits (a fixed wait can only let a wrong open through, never fail a right one).
        var open = writer.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite);
        Assert.NotSame(open, await Task.WhenAny(open, Task.Delay(500)));
        Assert.False(migration.IsCompleted);

        gate.Open();
        var after = await migration.WaitAsync(Patience);
        await using (var file = await open.WaitAsync(Patience))
        {
            // The writer got the new layout, so what it writes now lands in the new objects.
            Assert.Equal(after.Layout!.ToString(), file.Layout.ToString());
            var overwrite = RandomBytes(64 << 10, seed: 4);
            var appended = RandomBytes((1 << 20) + 7, seed: 5);
            await file.WriteAtAsync(3 << 20, overwrite);
            await file.WriteAtAsync(model.Length, appended);
            overwrite.CopyTo(model, 3 << 20);
            model = [.. model, .. appended];
        }

        Assert.Equal(before.Fid, after.Fid);
        Assert.Equal(model, await ReadAsync(cluster.Client, path));
        await cluster.DestroyAndWaitAsync([.. before.Layout!.AllObjects()], Patience);
        Assert.Equal(model, await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task A_blocking_migration_waits_for_a_writer_that_has_the_file_open_and_copies_what_it_wrote()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var model = RandomBytes(6 << 20, seed: 6);
        await WriteAsync(path, model, FileLayout.Raid0(1 << 20, stripeCount: 2));
        var fid = (await cluster.Client.GetInfoAsync(path)).Fid;
        await using var writer = new LustreClient(cluster.Address);

        Task<LustreFileInfo> migration;
        await using (var file = await writer.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite))
        {
            await file.WriteAtAsync(0, RandomBytes(4096, seed: 7).AsMemory());
            migration = cluster.Client.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 3));
            Assert.NotSame(migration, await Task.WhenAny(migration, Task.Delay(500)));

            // Still writing while the migration waits: every byte of it must be in the copy.
            var overwrite = RandomBytes(1 << 20, seed: 8);
            var appended = RandomBytes(300_000, seed: 9);
            await file.WriteAtAsync(2 << 20, overwrite);
            await file.WriteAtAsync(model.Length, appended);
            RandomBytes(4096, seed: 7).CopyTo(model, 0);
            overwrite.CopyTo(model, 2 << 20);
            model = [.. model, .. appended];
        }

        var after = await migration.WaitAsync(Patience);
        Assert.Equal(fid, after.Fid);
        Assert.Equal(3, after.Layout!.Components[0].StripeCount);
        Assert.Equal(model.Length, after.Length);
        Assert.Equal(model, await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task A_blocking_migration_gives_up_on_a_writer_that_keeps_the_file_open_and_lets_writers_in_again()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var model = RandomBytes(3 << 20, seed: 10);
        await WriteAsync(path, model, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var before = await cluster.Client.GetInfoAsync(path);
        var objects = await ObjectFilesAsync();
        await using var writer = new LustreClient(cluster.Address);
        await using var other = new LustreClient(cluster.Address);

        await using (var file = await writer.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite))
        {
            var migration = cluster.Client.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 2), new MigrateOptions { BusyTimeout = TimeSpan.FromSeconds(1) });
            var failure = await Assert.ThrowsAsync<LustreServerException>(() => migration.WaitAsync(Patience));
            Assert.Equal(LustreErrno.EBUSY, failure.Errno);
            Assert.Contains($"'{path}': it stayed open for writing for 1 s", failure.Message, StringComparison.Ordinal);

            // Writers are let in again at once, and the first one's handle still writes where the file's bytes are.
            await using (var second = await other.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite).WaitAsync(Patience))
            {
                Assert.Equal(before.Layout!.ToString(), second.Layout.ToString());
            }

            var appended = RandomBytes(100_000, seed: 11);
            await file.WriteAtAsync(model.Length, appended);
            model = [.. model, .. appended];
        }

        Assert.Equal(before.Layout.ToString(), (await cluster.Client.GetInfoAsync(path)).Layout!.ToString());
        Assert.Equal(model, await ReadAsync(cluster.Client, path));
        Assert.Equal(objects, await ObjectFilesAsync());
    }

    [Fact]
    public async Task A_blocking_migration_starts_again_when_a_writer_the_MDS_does_not_know_changes_the_file_under_the_copy()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var model = RandomBytes(8 << 20, seed: 23);
        await WriteAsync(path, model, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var gate = new RpcGate();
        await using var migrator = GatedClient(gate);

        var migration = migrator.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 2));
        await gate.Reached.Task.WaitAsync(Patience);

        // A handle the MDS never registered, as one opened before an MDS restart is to the restarted MDS: nothing holds
        // it off. Its bytes land in the old objects after the copy read them; its flush sets the size.
        InodeAttributes attributes;
        using (var frame = FrameBuffer.Rent())
        {
            new PathRequest(path).Write(frame.Body);
            attributes = await cluster.Client.Session.CallForAttributesAsync(Opcode.MdsGetAttr, frame, path, CancellationToken.None);
        }

        await using (var untracked = new Lustre.IO.LustreFile(cluster.Client.Session, path, attributes, writable: true))
        {
            var overwrite = RandomBytes(64 << 10, seed: 24);
            await untracked.WriteAtAsync(1 << 20, overwrite);
            await untracked.FlushAsync();
            overwrite.CopyTo(model, 1 << 20);
        }

        // The first swap is refused (the data version moved), and the migration starts again from the file as it is.
        gate.Open();
        var after = await migration.WaitAsync(Patience);
        Assert.Equal(2, after.Layout!.Components[0].StripeCount);
        Assert.Equal(model, await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task A_non_blocking_migration_fails_when_a_writer_comes_during_the_copy_and_the_writer_keeps_its_data()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var model = RandomBytes(12 << 20, seed: 12);
        await WriteAsync(path, model, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var before = await cluster.Client.GetInfoAsync(path);
        var objects = await ObjectFilesAsync();
        var gate = new RpcGate();
        await using var migrator = GatedClient(gate);
        await using var writer = new LustreClient(cluster.Address);

        var migration = migrator.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 4), new MigrateOptions { NonBlocking = true });
        await gate.Reached.Task.WaitAsync(Patience);

        // Not held off: the writer opens, overwrites, appends and closes while the copy is stuck at the gate.
        await using (var file = await writer.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite).WaitAsync(Patience))
        {
            Assert.Equal(before.Layout!.ToString(), file.Layout.ToString());
            var overwrite = RandomBytes(1 << 20, seed: 13);
            var appended = RandomBytes(500_000, seed: 14);
            await file.WriteAtAsync(5 << 20, overwrite);
            await file.WriteAtAsync(model.Length, appended);
            overwrite.CopyTo(model, 5 << 20);
            model = [.. model, .. appended];
        }

        gate.Open();
        var failure = await Assert.ThrowsAsync<LustreServerException>(() => migration.WaitAsync(Patience));
        Assert.Equal(LustreErrno.EBUSY, failure.Errno);
        Assert.Contains($"'{path}': it changed during the migration", failure.Message, StringComparison.Ordinal);

        var info = await cluster.Client.GetInfoAsync(path);
        Assert.Equal(before.Fid, info.Fid);
        Assert.Equal(before.Layout.ToString(), info.Layout!.ToString());
        Assert.Equal(model, await ReadAsync(cluster.Client, path));

        // The objects the copy wrote went back to the destroy queue: only the file's own are left (grown by the writer).
        Assert.Equal(objects, await ObjectFilesAsync());
    }

    [Fact]
    public async Task A_non_blocking_migration_is_refused_at_once_while_the_file_is_open_for_writing()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        await WriteAsync(path, RandomBytes(1 << 20, seed: 15), FileLayout.Raid0(1 << 20, stripeCount: 1));
        await using var writer = new LustreClient(cluster.Address);
        await using var file = await writer.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite);

        var failure = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 2), new MigrateOptions { NonBlocking = true }));

        Assert.Equal(LustreErrno.EBUSY, failure.Errno);
        Assert.Contains($"'{path}': it is open for writing", failure.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await cluster.Client.GetInfoAsync(path)).Layout!.Components[0].StripeCount);
    }

    [Fact]
    public async Task Cancelling_a_migration_leaves_the_file_as_it_was_and_gives_the_new_objects_back()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var data = RandomBytes(8 << 20, seed: 16);
        await WriteAsync(path, data, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var before = await cluster.Client.GetInfoAsync(path);
        var objects = await ObjectFilesAsync();
        var gate = new RpcGate();
        await using var migrator = GatedClient(gate);
        using var cancel = new CancellationTokenSource();

        var migration = migrator.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 4), cancellationToken: cancel.Token);
        await gate.Reached.Task.WaitAsync(Patience);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => migration.WaitAsync(Patience));
        gate.Open();

        Assert.Equal(before.Layout!.ToString(), (await cluster.Client.GetInfoAsync(path)).Layout!.ToString());
        await using (var file = await cluster.Client.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite).WaitAsync(Patience))
        {
            Assert.Equal(before.Layout.ToString(), file.Layout.ToString());
        }

        Assert.Equal(data, await ReadAsync(cluster.Client, path));
        Assert.Equal(objects, await ObjectFilesAsync());
    }

    [Fact]
    public async Task Mirrored_files_directories_missing_files_and_bad_layouts_are_refused_with_the_reason()
    {
        var directory = await cluster.NewDirectoryAsync();
        await WriteAsync(directory + "/m", RandomBytes(1 << 20, seed: 17), FileLayout.Mirrored(2, FileLayout.Raid0(1 << 20, stripeCount: 1)));
        await WriteAsync(directory + "/f", RandomBytes(1 << 20, seed: 18), FileLayout.Raid0(1 << 20, stripeCount: 1));

        var mirrored = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync(directory + "/m", FileLayout.Raid0(1 << 20, stripeCount: 2)));
        Assert.Equal(LustreErrno.EINVAL, mirrored.Errno);
        Assert.Contains($"'{directory}/m': it is a mirrored file: restripe it with lfs mirror extend", mirrored.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await cluster.Client.GetInfoAsync(directory + "/m")).Layout!.MirrorCount);

        var isDirectory = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync(directory, FileLayout.Raid0(1 << 20, stripeCount: 2)));
        Assert.Equal(LustreErrno.EISDIR, isDirectory.Errno);
        await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync("/", null));
        await Assert.ThrowsAsync<FileNotFoundException>(() => cluster.Client.MigrateAsync(directory + "/nope", null));

        var toMirrored = await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.MigrateAsync(directory + "/f", FileLayout.Mirrored(2, FileLayout.Raid0(1 << 20, stripeCount: 1))));
        Assert.Equal("layout", toMirrored.ParamName);
        var withObjects = (await cluster.Client.GetInfoAsync(directory + "/f")).Layout!;
        Assert.Equal("layout", (await Assert.ThrowsAsync<ArgumentException>(() => cluster.Client.MigrateAsync(directory + "/f", withObjects))).ParamName);
        Assert.Equal("BusyTimeout", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => cluster.Client.MigrateAsync(directory + "/f", null, new MigrateOptions { BusyTimeout = TimeSpan.FromSeconds(-1) }))).ParamName);
        Assert.Equal(withObjects.ToString(), (await cluster.Client.GetInfoAsync(directory + "/f")).Layout!.ToString());

        // A PFL layout that stops short of EOF (as Lustre allows) cannot hold the file's bytes past its end.
        var tooShort = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync(directory + "/f", FileLayout.Composite([new LayoutComponent(0, 512 << 10, 1 << 16, 1)])));
        Assert.Equal(LustreErrno.ENODATA, tooShort.Errno);
        Assert.Contains("the new layout ends at 524288, before the file's 1048576 bytes", tooShort.Message, StringComparison.Ordinal);
        Assert.Equal(withObjects.ToString(), (await cluster.Client.GetInfoAsync(directory + "/f")).Layout!.ToString());
    }

    [Fact]
    public async Task A_second_migration_of_a_file_waits_for_the_first_or_is_refused_when_non_blocking()
    {
        var path = await cluster.NewDirectoryAsync() + "/f";
        var data = RandomBytes(4 << 20, seed: 19);
        await WriteAsync(path, data, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var gate = new RpcGate();
        await using var migrator = GatedClient(gate);

        var first = migrator.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 2));
        await gate.Reached.Task.WaitAsync(Patience);
        var refused = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 3), new MigrateOptions { NonBlocking = true }));
        Assert.Equal(LustreErrno.EBUSY, refused.Errno);
        Assert.Contains("being migrated by another client", refused.Message, StringComparison.Ordinal);
        var second = cluster.Client.MigrateAsync(path, FileLayout.Raid0(1 << 20, stripeCount: 3));
        gate.Open();

        Assert.Equal(2, (await first.WaitAsync(Patience)).Layout!.Components[0].StripeCount);
        Assert.Equal(3, (await second.WaitAsync(Patience)).Layout!.Components[0].StripeCount);
        Assert.Equal(data, await ReadAsync(cluster.Client, path));
    }

    [Fact]
    public async Task A_file_renamed_during_its_migration_gets_the_new_layout_and_one_unlinked_leaves_no_object_behind()
    {
        var directory = await cluster.NewDirectoryAsync();
        var data = RandomBytes(4 << 20, seed: 22);
        await WriteAsync(directory + "/moved", data, FileLayout.Raid0(1 << 20, stripeCount: 1));
        await WriteAsync(directory + "/gone", data, FileLayout.Raid0(1 << 20, stripeCount: 1));
        var moved = (await cluster.Client.GetInfoAsync(directory + "/moved")).Layout!.AllObjects().Select(cluster.ObjectPath).ToList();
        var gone = (await cluster.Client.GetInfoAsync(directory + "/gone")).Layout!.AllObjects().Select(cluster.ObjectPath).ToList();
        var objects = await ObjectFilesAsync();

        // Renamed: the swap is by FID, so the file under its new name has the new layout.
        var gate = new RpcGate();
        await using (var migrator = GatedClient(gate))
        {
            var migration = migrator.MigrateAsync(directory + "/moved", FileLayout.Raid0(1 << 20, stripeCount: 2));
            await gate.Reached.Task.WaitAsync(Patience);
            await cluster.Client.RenameAsync(directory + "/moved", directory + "/renamed");
            gate.Open();
            await migration.WaitAsync(Patience);
        }

        var renamed = (await cluster.Client.GetInfoAsync(directory + "/renamed")).Layout!;
        Assert.Equal(2, renamed.Components[0].StripeCount);
        Assert.Equal(data, await ReadAsync(cluster.Client, directory + "/renamed"));

        // Unlinked: the migration fails (its swap finds no inode, and starting again finds no file), and neither the
        // file's objects nor those the migration placed and wrote are left once it gave them back.
        gate = new RpcGate();
        await using (var migrator = GatedClient(gate))
        {
            var migration = migrator.MigrateAsync(directory + "/gone", FileLayout.Raid0(1 << 20, stripeCount: 2));
            await gate.Reached.Task.WaitAsync(Patience);
            await cluster.Client.DeleteFileAsync(directory + "/gone");
            gate.Open();
            await Assert.ThrowsAsync<FileNotFoundException>(() => migration.WaitAsync(Patience));
        }

        var expected = new SortedSet<string>(objects.Except(moved).Except(gone).Union(renamed.AllObjects().Select(cluster.ObjectPath)), StringComparer.Ordinal);
        Assert.Equal(expected, await ObjectFilesAsync());
    }

    private async Task WriteAsync(string path, byte[] data, FileLayout layout)
    {
        await using var file = await cluster.Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        await file.WriteAtAsync(0, data);
    }

    /// <summary>
    /// Every object file on every OST of the cluster once the destroy queue has run (tests of this collection run one at
    /// a time, so nothing else changes them meanwhile).
    /// </summary>
    private async Task<SortedSet<string>> ObjectFilesAsync()
    {
        await cluster.Cluster.Node.Destroys!.RunOnceAsync(CancellationToken.None);
        return new(Directory.EnumerateFiles(cluster.DataDirectory, "*", SearchOption.AllDirectories).Where(f => f.Contains($"{Path.DirectorySeparatorChar}objects{Path.DirectorySeparatorChar}", StringComparison.Ordinal)), StringComparer.Ordinal);
    }

    /// <summary>A client of the cluster whose OST writes wait at <paramref name="gate"/>.</summary>
    private LustreClient GatedClient(RpcGate gate)
    {
        var client = new LustreClient(cluster.Address);
        gate.Attach(client);
        return client;
    }
}
