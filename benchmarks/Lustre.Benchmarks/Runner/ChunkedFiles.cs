using Lustre.Client;
using Lustre.Layouts;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// What the <c>mirror</c> and <c>transport</c> runners share: their arguments (<c>--size</c>, a multiple of one chunk;
/// <c>--repeat</c>; <c>--dir</c>) and a file written in chunks of the same bytes, several in flight, then flushed, and
/// read back in chunks into reused buffers with every byte checked.
/// </summary>
internal static class ChunkedFiles
{
    public const int Chunk = 4 << 20;
    public const int Depth = 8;

    /// <summary>Parses <c>[--size 1G] [--repeat 3] [--dir DIR]</c>; null (after printing why) when they make no run.</summary>
    public static (long Size, int Repeat, string Directory)? ParseArguments(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        var size = args.Size("size", 1L << 30);
        var repeat = args.Int("repeat", 3);
        var directory = args.Text("dir") ?? Path.GetTempPath();
        args.ThrowIfUnused();
        if (repeat < 1 || size < Chunk || size % Chunk != 0)
        {
            Console.Error.WriteLine($"--repeat must be at least 1 and --size a positive multiple of {Chunk} bytes.");
            return null;
        }

        return (size, repeat, directory);
    }

    /// <summary>Creates <paramref name="path"/> with <paramref name="layout"/>, writes <paramref name="size"/> bytes of <paramref name="data"/> chunks and flushes.</summary>
    public static async Task<PhaseResult> WriteAsync(LustreClient client, string path, FileLayout layout, long size, byte[] data)
    {
        var meter = new PhaseMeter();
        await using (var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: layout))
        {
            await Parallel.ForEachAsync(Offsets(size), new ParallelOptions { MaxDegreeOfParallelism = Depth }, async (offset, ct) => await file.WriteAtAsync(offset, data, ct));
            await file.FlushAsync();
        }

        return PhaseMeter.Bytes("write + flush", size, meter.Stop());
    }

    /// <summary>Reads the file back, <see cref="Depth"/> chunks at a time, each reader with its own buffer; throws when a chunk is not <paramref name="expected"/>.</summary>
    public static async Task<PhaseResult> ReadAsync(LustreClient client, string path, long size, byte[] expected)
    {
        var buffers = Enumerable.Range(0, Depth).Select(_ => new byte[Chunk]).ToArray();
        var meter = new PhaseMeter();
        var wrong = 0;
        long next = -Chunk;
        await using (var file = await client.OpenFileAsync(path, FileMode.Open, FileAccess.Read))
        {
            await Task.WhenAll(buffers.Select(async buffer =>
            {
                for (var offset = Interlocked.Add(ref next, Chunk); offset < size; offset = Interlocked.Add(ref next, Chunk))
                {
                    if (await file.ReadAtAsync(offset, buffer) != Chunk || !buffer.AsSpan().SequenceEqual(expected))
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
            }));
        }

        var result = PhaseMeter.Bytes("read", size, meter.Stop());
        return wrong == 0 ? result : throw new InvalidDataException($"{path}: {wrong} chunks read back wrong");
    }

    private static IEnumerable<long> Offsets(long size)
    {
        for (long offset = 0; offset < size; offset += Chunk)
        {
            yield return offset;
        }
    }
}
