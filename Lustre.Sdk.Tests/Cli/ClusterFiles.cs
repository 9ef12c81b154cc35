using Lustre.Layouts;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Cli;

/// <summary>Files for the command tests to work on, made and checked through the SDK.</summary>
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

    /// <summary>Marks a mirror stale as a client does when a write misses it (its OSS was down).</summary>
    public static async Task MarkStaleAsync(this CliClusterFixture cluster, string path, int mirrorId)
    {
        var info = await cluster.Client.GetInfoAsync(path);
        await cluster.Client.Session.MirrorAsync(new MirrorRequest(info.Fid, MirrorOperation.MarkStale, mirrorId, 0, []), path, CancellationToken.None);
        Assert.True((await cluster.Client.GetInfoAsync(path)).Layout!.MirrorById(mirrorId)!.IsStale);
    }
}
