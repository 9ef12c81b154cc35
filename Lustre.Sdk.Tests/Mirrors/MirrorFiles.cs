using Lustre.Client;

namespace Lustre.Tests.Mirrors;

/// <summary>Random file contents, and whole-file reads, for the mirror tests.</summary>
internal static class MirrorFiles
{
    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static async Task<byte[]> ReadAsync(LustreClient client, string path)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var buffer = new byte[file.Length];
        Assert.Equal(buffer.Length, await file.ReadAtAsync(0, buffer));
        return buffer;
    }
}
