using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// The durable-unlink rate of this disk, the delete phases' baseline with the guarantee ours gives: each thread
/// unlinks its own files, each followed by an fsync of their directory (which on ext4 commits the journal
/// transaction holding the removal), as our MDS acknowledges an unlink only once it is durable, for a fixed time or
/// until the files run out. The files are created and synced before the clock starts; those left are removed after. The local delete phases themselves (<see cref="LocalIo500Storage"/>)
/// stay unsynced and are shown beside it for scale.
/// </summary>
internal static class DurableUnlinkBaseline
{
    public static PhaseResult Measure(string directory, int threads, int filesPerThread, int fileSize, TimeSpan duration)
    {
        var data = new byte[fileSize];
        var folders = new string[threads];
        for (var t = 0; t < threads; t++)
        {
            folders[t] = Path.Combine(directory, $"unlink.{t}");
            Directory.CreateDirectory(folders[t]);
        }

        Parallel.For(0, threads, t =>
        {
            for (var i = 0; i < filesPerThread; i++)
            {
                File.WriteAllBytes(Path.Combine(folders[t], $"f.{i}"), data);
            }
        });
        LocalDisk.SyncAll();

        long unlinks = 0;
        var meter = new PhaseMeter();
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            var folder = folders[t];
            workers[t] = new Thread(() =>
            {
                using var handle = LocalDisk.OpenDirectory(folder);
                for (var i = 0; i < filesPerThread && meter.Elapsed < duration; i++)
                {
                    File.Delete(Path.Combine(folder, $"f.{i}"));
                    LocalDisk.FsyncDirectory(handle);
                    Interlocked.Increment(ref unlinks);
                }
            });
            workers[t].Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        var cost = meter.Stop();
        foreach (var folder in folders)
        {
            Directory.Delete(folder, recursive: true);
        }

        var size = fileSize == 0 ? "empty files" : $"{fileSize:N0}-byte files";
        return PhaseMeter.Operations($"durable unlink: unlink + fsync of its directory, {size}, {threads} thread{(threads == 1 ? "" : "s")}", unlinks, cost);
    }
}
