using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Benchmarks.Dataset;

/// <summary>
/// The baseline's data: byte-identical copies of the shards DatasetWriter wrote, as plain files on the same disk, with
/// their index parsed from the documented layout (docs/dataset-format.md) by this class, not by the SDK.
/// </summary>
internal sealed class LocalShards : IDisposable
{
    private readonly SafeFileHandle[] _handles;
    private readonly int[] _shard;
    private readonly long[] _offset;
    private readonly int[] _length;
    private readonly string[] _keys;

    private LocalShards(SafeFileHandle[] handles, int[] shard, long[] offset, int[] length, string[] keys)
    {
        _handles = handles;
        _shard = shard;
        _offset = offset;
        _length = length;
        _keys = keys;
    }

    public int Count => _shard.Length;

    /// <summary>Copies each shard out of the filesystem into <paramref name="directory"/> (fsync'd), then opens and indexes the copies.</summary>
    public static async Task<LocalShards> CopyAsync(LustreClient client, IReadOnlyList<string> shards, string directory)
    {
        Directory.CreateDirectory(directory);
        var buffer = new byte[4 << 20];
        var paths = new List<string>();
        foreach (var shard in shards)
        {
            var local = Path.Combine(directory, Path.GetFileName(shard));
            await using (var source = await client.OpenFileAsync(shard, FileMode.Open, access: FileAccess.Read))
            await using (var target = new FileStream(local, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                long at = 0;
                while (at < source.Length)
                {
                    var read = await source.ReadAtAsync(at, buffer);
                    if (read <= 0)
                    {
                        throw new IOException($"{shard}: read {at} of {source.Length} bytes.");
                    }

                    target.Write(buffer, 0, read);
                    at += read;
                }

                target.Flush(flushToDisk: true);
            }

            paths.Add(local);
        }

        return Open(paths);
    }

    private static LocalShards Open(List<string> paths)
    {
        paths.Sort(string.CompareOrdinal);
        var handles = new SafeFileHandle[paths.Count];
        var shard = new List<int>();
        var offset = new List<long>();
        var length = new List<int>();
        var keys = new List<string>();
        for (var s = 0; s < paths.Count; s++)
        {
            handles[s] = File.OpenHandle(paths[s], FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
            var size = RandomAccess.GetLength(handles[s]);
            var footer = new byte[32];
            RandomAccess.Read(handles[s], footer, size - 32);
            if (!footer.AsSpan(24).SequenceEqual("LDSINDEX"u8))
            {
                throw new InvalidDataException($"{paths[s]}: no LDSINDEX footer.");
            }

            var indexOffset = BinaryPrimitives.ReadInt64LittleEndian(footer);
            var index = new byte[BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(8))];
            RandomAccess.Read(handles[s], index, indexOffset);
            var at = 0;
            var names = BinaryPrimitives.ReadUInt32LittleEndian(index);
            at += 4;
            for (var n = 0; n < names; n++)
            {
                at += 2 + BinaryPrimitives.ReadUInt16LittleEndian(index.AsSpan(at));
            }

            var count = BinaryPrimitives.ReadUInt32LittleEndian(index.AsSpan(at));
            at += 4;
            for (var i = 0; i < count; i++)
            {
                var keyLength = BinaryPrimitives.ReadUInt16LittleEndian(index.AsSpan(at));
                keys.Add(Encoding.UTF8.GetString(index, at + 2, keyLength));
                at += 2 + keyLength;
                offset.Add(BinaryPrimitives.ReadInt64LittleEndian(index.AsSpan(at)));
                var fields = BinaryPrimitives.ReadUInt16LittleEndian(index.AsSpan(at + 8));
                at += 10;
                var total = 0;
                for (var f = 0; f < fields; f++)
                {
                    total += (int)BinaryPrimitives.ReadUInt32LittleEndian(index.AsSpan(at + 2));
                    at += 6;
                }

                length.Add(total);
                shard.Add(s);
            }
        }

        return new LocalShards(handles, [.. shard], [.. offset], [.. length], [.. keys]);
    }

    /// <summary>
    /// The baseline epoch: one <see cref="RandomAccess.Read(SafeFileHandle, Span{byte}, long)"/> per sample, in
    /// <paramref name="order"/>, into one reused buffer, on the calling thread — a local map-style loader with no workers.
    /// Returns the samples that failed the check; <paramref name="readTicks"/> is the time spent in the reads.
    /// </summary>
    public long Epoch(long[] order, SampleContent content, bool verifyAll, TimeSpan compute, out long readTicks)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(content.SampleSize, pinned: true);
        var computeTicks = (long)(compute.TotalSeconds * Stopwatch.Frequency);
        long wrong = 0;
        long reading = 0;
        foreach (var id in order)
        {
            var start = Stopwatch.GetTimestamp();
            var span = buffer.AsSpan(0, _length[id]);
            var read = RandomAccess.Read(_handles[_shard[id]], span, _offset[id]);
            var end = Stopwatch.GetTimestamp();
            reading += end - start;
            if (read != span.Length || !content.Check(span, id, verifyAll) || _keys[id] != SampleContent.Key(id))
            {
                wrong++;
            }

            Spin(end, computeTicks);
        }

        readTicks = reading;
        return wrong;
    }

    /// <summary>
    /// Reads every copy once from start to end, so the baseline starts from the page cache as our side does (the copy
    /// read every shard through the client just before). Without it the first baseline epoch of a run could read
    /// partly from disk: 4 KiB shard-aware once took 43 s at 0.38 cores busy, the next mode's epoch 2.1 s.
    /// </summary>
    public long Warm()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(4 << 20);
        long total = 0;
        foreach (var handle in _handles)
        {
            total += PageCache.ReadWhole(handle, buffer);
        }

        return total;
    }

    /// <summary>Busy-waits until <paramref name="ticks"/> after <paramref name="from"/>: the consumer's simulated compute.</summary>
    public static void Spin(long from, long ticks)
    {
        if (ticks <= 0)
        {
            return;
        }

        var until = Math.Max(from, Stopwatch.GetTimestamp()) + ticks;
        while (Stopwatch.GetTimestamp() < until)
        {
        }
    }

    public void Dispose()
    {
        foreach (var handle in _handles)
        {
            handle.Dispose();
        }
    }
}
