using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// The disk ceiling on the same filesystem: the same bytes written through an unbuffered <see cref="FileStream"/>
/// in the same chunks, then one fsync (<c>Flush(true)</c>); and read back the same way.
/// </summary>
internal static class LocalFileBaseline
{
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
