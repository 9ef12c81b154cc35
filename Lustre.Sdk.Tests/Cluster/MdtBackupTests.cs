using System.Collections.Concurrent;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Server.Mds;

namespace Lustre.Tests.Cluster;

/// <summary>
/// An online MDT backup (RocksDB checkpoint) taken while clients write restores to a consistent namespace: every
/// operation finished before the backup began is in it, none begun after it ended is, renames are atomic, and
/// a restored MDT never hands out FIDs or object ids that were used after the backup.
/// </summary>
public sealed class MdtBackupTests : IDisposable
{
    private const int Writers = 3;
    private const int FileSize = 200_000;
    private readonly TempFolder _data = new("lustre-backup-");
    private long _clock;

    public void Dispose() => _data.Dispose();

    private static byte[] Content(string name)
    {
        var bytes = new byte[FileSize];
        new Random(name.GetHashCode(StringComparison.Ordinal)).NextBytes(bytes);
        return bytes;
    }

    private long Tick() => Interlocked.Increment(ref _clock);

    /// <summary>One writer's history: when each file's publish (write tmp, flush, close, rename) and delete began and ended.</summary>
    private sealed record FileEvents(string Name)
    {
        public long CreateStart { get; set; } = long.MaxValue;

        public long PublishEnd { get; set; } = long.MaxValue;

        public long DeleteStart { get; set; } = long.MaxValue;

        public long DeleteEnd { get; set; } = long.MaxValue;
    }

    private async Task WriteLoopAsync(LustreClient client, int writer, ConcurrentBag<FileEvents> events, CancellationToken stop)
    {
        var directory = $"/w{writer}";
        await client.CreateDirectoryAsync(directory, CancellationToken.None);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            // The checkpoint pattern: write a temporary name, make it durable, rename it into place.
            var name = $"{directory}/f{i}";
            var file = new FileEvents(name) { CreateStart = Tick() };
            events.Add(file);
            await using (var tmp = await client.OpenFileAsync($"{directory}/tmp-{i}", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, -1), cancellationToken: CancellationToken.None))
            {
                await tmp.WriteAtAsync(0, Content(name), CancellationToken.None);
                await tmp.FlushAsync(CancellationToken.None);
            }

            await client.RenameAsync($"{directory}/tmp-{i}", name, CancellationToken.None);
            file.PublishEnd = Tick();
            if (i % 4 == 3)
            {
                var old = events.Single(e => e.Name == $"{directory}/f{i - 2}");
                old.DeleteStart = Tick();
                await client.DeleteFileAsync(old.Name, CancellationToken.None);
                old.DeleteEnd = Tick();
            }
        }
    }

    [Fact]
    public async Task A_backup_taken_while_clients_write_restores_to_a_consistent_namespace()
    {
        var events = new ConcurrentBag<FileEvents>();
        string backupPath;
        long backupStart, backupEnd;
        var options = new LustreClusterOptions { DataDirectory = _data.Path, OstCount = 4 };
        await using (var cluster = await LustreCluster.StartAsync(options))
        {
            await using var client = new LustreClient(cluster.Address);
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(() => WriteLoopAsync(client, w, events, stop.Token))).ToArray();
            await WaitUntilAsync(() => events.Count(e => e.PublishEnd != long.MaxValue) >= 12);

            backupStart = Tick();
            (backupPath, var commit) = await client.BackupMdtAsync("during-writes", CancellationToken.None);
            backupEnd = Tick();
            Assert.True(commit > 0);
            Assert.StartsWith(Path.Combine(_data.Path, "mdt-backups"), backupPath, StringComparison.Ordinal);
            var created = events.Count;
            await WaitUntilAsync(() => events.Count >= created + 6);
            await stop.CancelAsync();
            await Task.WhenAll(writers);

            var again = await Assert.ThrowsAsync<LustreServerException>(() => client.BackupMdtAsync("during-writes", CancellationToken.None));
            Assert.Equal(Lustre.Protocol.LustreErrno.EEXIST, again.Errno);
            await Assert.ThrowsAsync<LustreServerException>(() => client.BackupMdtAsync("../escape", CancellationToken.None));
        }

        // Restore: the MDS starts on a copy of the backup in place of its MDT.
        var mdt = Path.Combine(_data.Path, "mdt0000");
        Directory.Move(mdt, mdt + ".before-restore");
        CopyDirectory(backupPath, mdt);
        await using (var cluster = await LustreCluster.StartAsync(options))
        {
            await using var client = new LustreClient(cluster.Address);
            var present = new HashSet<string>(StringComparer.Ordinal);
            for (var w = 0; w < Writers; w++)
            {
                if (!await client.ExistsAsync($"/w{w}"))
                {
                    continue;
                }

                await foreach (var entry in client.EnumerateDirectoryAsync($"/w{w}"))
                {
                    present.Add(entry.Path);
                    await using var file = await client.OpenFileAsync(entry.Path, access: FileAccess.Read);
                    Assert.InRange(file.Length, 0, FileSize);
                }
            }

            foreach (var file in events)
            {
                var tmp = file.Name.Replace("/f", "/tmp-", StringComparison.Ordinal);
                var durable = file.PublishEnd < backupStart && file.DeleteStart > backupEnd;
                var gone = file.DeleteEnd < backupStart || file.CreateStart > backupEnd;
                Assert.False(present.Contains(file.Name) && present.Contains(tmp), $"{file.Name}: both it and its temporary name exist: the rename was not atomic in the backup");
                if (durable)
                {
                    Assert.Contains(file.Name, present);
                }

                if (gone)
                {
                    Assert.DoesNotContain(file.Name, present);
                    Assert.DoesNotContain(tmp, present);
                }

                // Never deleted, so its objects are intact: a published file reads back whole.
                if (present.Contains(file.Name) && file.DeleteStart == long.MaxValue)
                {
                    await using var opened = await client.OpenFileAsync(file.Name, access: FileAccess.Read);
                    var bytes = new byte[FileSize];
                    Assert.Equal(FileSize, await opened.ReadAtAsync(0, bytes));
                    Assert.True(Content(file.Name).AsSpan().SequenceEqual(bytes), $"{file.Name}: content differs after restore");
                }
            }

            Assert.Contains(events, e => e.PublishEnd < backupStart && e.DeleteStart == long.MaxValue);

            // New files after the restore get object ids past anything handed out before, so they cannot land in
            // an object a post-backup file left on an OST.
            await client.CreateDirectoryAsync("/after-restore");
            await using (var fresh = await client.OpenFileAsync("/after-restore/new.bin", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, -1)))
            {
                Assert.All(fresh.Layout.Components.SelectMany(c => c.Objects), o => Assert.True(o.ObjectId > MdtStore.RestoreSkip, $"object {o} reuses the id range of before the restore"));
                await fresh.WriteAtAsync(0, Content("new"));
                await fresh.FlushAsync();
            }

            await using var reread = await client.OpenFileAsync("/after-restore/new.bin", access: FileAccess.Read);
            var back = new byte[FileSize];
            Assert.Equal(FileSize, await reread.ReadAtAsync(0, back));
            Assert.True(Content("new").AsSpan().SequenceEqual(back));
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    private static void CopyDirectory(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }
    }
}
