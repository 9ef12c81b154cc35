using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// The durable-commit rate of this disk: each thread appends 64 bytes to its own file and fsyncs, over and over,
/// for a fixed time. What a metadata server that commits every operation alone can reach at best.
/// </summary>
internal static class DurableCommitBaseline
{
    public static PhaseResult Measure(string directory, int threads, TimeSpan duration)
    {
        var record = new byte[64];
        long commits = 0;
        var meter = new PhaseMeter();
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            var path = Path.Combine(directory, $"commit.{t}");
            workers[t] = new Thread(() =>
            {
                using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
                while (meter.Elapsed < duration)
                {
                    stream.Write(record);
                    stream.Flush(flushToDisk: true);
                    Interlocked.Increment(ref commits);
                }
            });
            workers[t].Start();
        }

        foreach (var worker in workers)
        {
            worker.Join();
        }

        var result = PhaseMeter.Operations($"durable commit: 64 B append + fsync, {threads} thread{(threads == 1 ? "" : "s")}", commits, meter.Stop());
        for (var t = 0; t < threads; t++)
        {
            File.Delete(Path.Combine(directory, $"commit.{t}"));
        }

        return result;
    }
}
