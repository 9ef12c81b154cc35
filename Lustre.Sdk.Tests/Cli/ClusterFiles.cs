using System.Globalization;
using Lustre.Layouts;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Cli;

/// <summary>Files for the command tests to work on, made and checked through the SDK and, for mirrors, the OST object files.</summary>
internal static class ClusterFiles
{
    /// <summary>Creates a file with that layout (null: the directory's default) holding <paramref name="length"/> random bytes, and returns them.</summary>
    public static async Task<byte[]> WriteAsync(this CliClusterFixture cluster, string path, int length, FileLayout? layout)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var file = await cluster.Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        await using (file)
        {
            await file.WriteAtAsync(0, data);
        }

        return data;
    }

    public static async Task<byte[]> ReadAsync(this CliClusterFixture cluster, string path)
    {
        var file = await cluster.Client.OpenFileAsync(path);
        await using (file)
        {
            var data = new byte[file.Length];
            Assert.Equal(data.Length, await file.ReadAtAsync(0, data));
            return data;
        }
    }

    /// <summary>
    /// Marks a mirror stale, as a client does when a write misses it (its OSS was down), and keeps the file open for
    /// writing until the result is disposed: an MDS that resyncs stale files by itself leaves alone a file that a
    /// writer has, so the mirror stays stale for as long as the test looks at it.
    /// </summary>
    public static async Task<IAsyncDisposable> MarkStaleAsync(this CliClusterFixture cluster, string path, int mirrorId)
    {
        var writer = await cluster.Client.OpenFileAsync(path, FileMode.Open, FileAccess.ReadWrite);
        try
        {
            await cluster.Client.Session.MirrorAsync(new MirrorRequest(writer.Fid, MirrorOperation.MarkStale, mirrorId, 0, []), path, CancellationToken.None);
            Assert.True((await cluster.Client.GetInfoAsync(path)).Layout!.MirrorById(mirrorId)!.IsStale);
            return writer;
        }
        catch
        {
            await writer.DisposeAsync();
            throw;
        }
    }

    /// <summary>Where the OST keeps an object: <c>DATA/ostNNNN/objects/XX/ID</c>.</summary>
    public static string ObjectFile(this CliClusterFixture cluster, OstObject obj) => Path.Combine(
        cluster.DataDirectory, $"ost{obj.OstIndex:X4}", "objects", (obj.ObjectId & 0xFF).ToString("x2", CultureInfo.InvariantCulture), obj.ObjectId.ToString("x", CultureInfo.InvariantCulture));

    /// <summary>Flips 16 bytes of an OST object on disk, under the servers, as a failing disk would.</summary>
    public static async Task CorruptAsync(this CliClusterFixture cluster, OstObject obj, long offset)
    {
        using var handle = File.OpenHandle(cluster.ObjectFile(obj), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var bytes = new byte[16];
        Assert.Equal(bytes.Length, await RandomAccess.ReadAsync(handle, bytes, offset));
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] ^= 0xFF;
        }

        await RandomAccess.WriteAsync(handle, bytes, offset);
    }
}
