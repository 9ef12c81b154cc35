using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// What the disk alone gives a cold epoch: the files of the OST folders (<c>ost*</c>) under a cluster's data directory,
/// evicted from the page cache, then read back whole in 4 MiB reads, four files at a time, with nothing else running.
/// No reader of those bytes gets them off the disk faster, so their size ÷ this rate is the shortest a cold epoch can be.
/// </summary>
internal static class ColdReadBaseline
{
    private const int Streams = 4;

    public static PhaseResult Run(string dataDirectory)
    {
        var files = Directory.EnumerateDirectories(dataDirectory, "ost*")
            .SelectMany(ost => Directory.EnumerateFiles(ost, "*", SearchOption.AllDirectories))
            .ToArray();
        foreach (var ost in Directory.EnumerateDirectories(dataDirectory, "ost*"))
        {
            PageCache.Evict(ost);
        }

        var meter = new PhaseMeter();
        long total = 0;
        Parallel.ForEach(
            files,
            new ParallelOptions { MaxDegreeOfParallelism = Streams },
            () => (Buffer: GC.AllocateUninitializedArray<byte>(4 << 20), Bytes: 0L),
            (path, _, local) =>
            {
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
                long at = 0;
                int read;
                while ((read = RandomAccess.Read(handle, local.Buffer, at)) > 0)
                {
                    at += read;
                }

                local.Bytes += at;

                return local;
            },
            local => Interlocked.Add(ref total, local.Bytes));
        return PhaseMeter.Bytes($"disk: the OST object files read back cold, {Streams} files at a time", total, meter.Stop());
    }
}
