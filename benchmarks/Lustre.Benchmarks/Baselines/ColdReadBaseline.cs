using System.Runtime.InteropServices;
using Lustre.Benchmarks.Runner;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// What the disk alone gives a cold epoch: the files of the OST folders (<c>ost*</c>) under a cluster's data directory,
/// evicted from the page cache, then read back whole with nothing else running, two ways: four files at a time in 4 MiB
/// buffered reads (the kernel's readahead), and with O_DIRECT in 1 MiB pieces from 16 threads (a queue of 16 at the
/// disk, as fio's <c>--direct=1 --iodepth=16</c>). The faster of the two estimates how fast a reader gets these bytes
/// off the disk; only an estimate, because the host's cache behind the virtual disk serves recently read bytes faster.
/// </summary>
internal static partial class ColdReadBaseline
{
    private const int BufferedStreams = 4;
    private const int DirectThreads = 16;
    private const int Piece = 1 << 20;
    private const int ODirect = 0x4000;

    /// <summary>Both reads (the estimate is the faster one's rate).</summary>
    public static (PhaseResult Direct, PhaseResult Buffered) Run(string dataDirectory)
    {
        var osts = Directory.EnumerateDirectories(dataDirectory, "ost*").ToArray();
        var files = osts.SelectMany(ost => Directory.EnumerateFiles(ost, "*", SearchOption.AllDirectories)).ToArray();
        Evict(osts);
        var direct = Direct(files);
        Evict(osts);
        return (direct, Buffered(files));
    }

    private static void Evict(string[] osts)
    {
        foreach (var ost in osts)
        {
            PageCache.Evict(ost);
        }
    }

    private static PhaseResult Buffered(string[] files)
    {
        var meter = new PhaseMeter();
        long total = 0;
        Parallel.ForEach(
            files,
            new ParallelOptions { MaxDegreeOfParallelism = BufferedStreams },
            () => (Buffer: GC.AllocateUninitializedArray<byte>(4 << 20), Bytes: 0L),
            (path, _, local) =>
            {
                using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
                local.Bytes += PageCache.ReadWhole(handle, local.Buffer);
                return local;
            },
            local => Interlocked.Add(ref total, local.Bytes));
        return PhaseMeter.Bytes($"disk: the OST object files read back cold, {BufferedStreams} buffered streams", total, meter.Stop());
    }

    private static unsafe PhaseResult Direct(string[] files)
    {
        var handles = files.Select(OpenDirect).ToArray();
        try
        {
            var pieces = handles.SelectMany(h => Enumerable.Range(0, (int)((RandomAccess.GetLength(h) + Piece - 1) / Piece)).Select(p => (Handle: h, Offset: (long)p * Piece))).ToArray();
            var meter = new PhaseMeter();
            var next = -1;
            long total = 0;
            var threads = Enumerable.Range(0, DirectThreads).Select(_ => new Thread(() =>
            {
                var buffer = NativeMemory.AlignedAlloc(Piece, 4096);
                try
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < pieces.Length)
                    {
                        Interlocked.Add(ref total, RandomAccess.Read(pieces[i].Handle, new Span<byte>(buffer, Piece), pieces[i].Offset));
                    }
                }
                finally
                {
                    NativeMemory.AlignedFree(buffer);
                }
            })).ToArray();
            foreach (var thread in threads)
            {
                thread.Start();
            }

            foreach (var thread in threads)
            {
                thread.Join();
            }

            return PhaseMeter.Bytes($"disk: the OST object files read back cold, O_DIRECT, {DirectThreads} reads of 1 MiB in flight", total, meter.Stop());
        }
        finally
        {
            foreach (var handle in handles)
            {
                handle.Dispose();
            }
        }
    }

    private static SafeFileHandle OpenDirect(string path)
    {
        var fd = Open(path, ODirect);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw new IOException($"open with O_DIRECT of {path} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);
}
