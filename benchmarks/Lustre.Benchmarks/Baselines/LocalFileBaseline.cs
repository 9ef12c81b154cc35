using System.Runtime.InteropServices;
using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// The disk ceiling on the same filesystem: the same bytes written through an unbuffered <see cref="FileStream"/>
/// in the same chunks, then one fsync (<c>Flush(true)</c>), or with O_DIRECT at queue depth 16 (<see cref="WriteDirect"/>);
/// and read back the same way. A durable write is judged against the faster of the two writes.
/// </summary>
internal static class LocalFileBaseline
{
    /// <summary>Writes in flight at once in <see cref="WriteDirect"/>, as fio's <c>--iodepth=16</c>.</summary>
    public const int DirectDepth = 16;

    private const int DirectBlock = 1 << 20;

    /// <summary>
    /// The same bytes written past the page cache: O_DIRECT, 1 MiB blocks, <see cref="DirectDepth"/> writers taking
    /// the next block in turn (the disk sees a queue as fio's libaio at depth 16 makes one), then one fsync for the
    /// file's metadata. Each writer stamps its block first, as the buffered write does.
    /// </summary>
    public static unsafe PhaseResult WriteDirect(string path, long size, TestPattern pattern)
    {
        var meter = new PhaseMeter();
        var blocks = (size + DirectBlock - 1) / DirectBlock;
        long next = -1;
        using (var handle = LocalDisk.CreateDirect(path))
        {
            var writers = new Thread[DirectDepth];
            Exception? failure = null;
            for (var w = 0; w < writers.Length; w++)
            {
                writers[w] = new Thread(() =>
                {
                    var buffer = (byte*)NativeMemory.AlignedAlloc(DirectBlock, 4096);
                    try
                    {
                        for (var block = Interlocked.Increment(ref next); block < blocks && Volatile.Read(ref failure) is null; block = Interlocked.Increment(ref next))
                        {
                            var offset = block * DirectBlock;
                            // The last block is rounded up to whole pages; the file is cut back to the size below.
                            var length = (int)((Math.Min(DirectBlock, size - offset) + 4095) / 4096 * 4096);
                            var chunk = new Span<byte>(buffer, length);
                            pattern.Stamp(chunk, offset);
                            RandomAccess.Write(handle, chunk, offset);
                        }
                    }
                    catch (Exception ex)
                    {
                        Interlocked.CompareExchange(ref failure, ex, null);
                    }
                    finally
                    {
                        NativeMemory.AlignedFree(buffer);
                    }
                });
                writers[w].Start();
            }

            foreach (var writer in writers)
            {
                writer.Join();
            }

            if (failure is not null)
            {
                throw new IOException($"{path}: the O_DIRECT baseline failed: {failure.Message}", failure);
            }

            RandomAccess.SetLength(handle, size);
            RandomAccess.FlushToDisk(handle);
        }

        return PhaseMeter.Bytes($"local O_DIRECT write, depth {DirectDepth} + fsync", size, meter.Stop());
    }

    public static PhaseResult Write(string path, long size, TestPattern pattern, byte[] buffer)
    {
        var meter = new PhaseMeter();
        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            for (long offset = 0; offset < size; offset += buffer.Length)
            {
                var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, size - offset));
                pattern.Stamp(chunk, offset);
                stream.Write(chunk);
            }

            stream.Flush(flushToDisk: true);
        }

        return PhaseMeter.Bytes("local FileStream write + fsync", size, meter.Stop());
    }

    public static PhaseResult Read(string path, long size, byte[] buffer)
    {
        var meter = new PhaseMeter();
        long total = 0;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0))
        {
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                total += read;
            }
        }

        if (total != size)
        {
            throw new IOException($"{path}: read back {total} bytes, wrote {size}.");
        }

        return PhaseMeter.Bytes("local FileStream read (after write: page cache)", size, meter.Stop());
    }
}
