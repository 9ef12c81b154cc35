using System.IO.Compression;
using Lustre.Client;

namespace Lustre.Tests.Dataset;

/// <summary>The committed golden files, and copying them into the test cluster.</summary>
internal static class DatasetTestData
{
    public static string LocalPath(string name) => Path.Combine(AppContext.BaseDirectory, "Dataset", "Data", name);

    public static byte[] Read(string name) => File.ReadAllBytes(LocalPath(name));

    public static async Task<string> UploadAsync(LustreClient client, string directory, string name, byte[]? content = null)
    {
        var path = directory + "/" + name;
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew);
        await file.WriteAtAsync(0, content ?? Read(name));
        await file.FlushAsync();
        return path;
    }

    /// <summary>The committed MNIST subset: (label, 784 pixels) per digit.</summary>
    public static List<(byte Label, byte[] Pixels)> Mnist()
    {
        using var gzip = new GZipStream(File.OpenRead(LocalPath("mnist-300.bin.gz")), CompressionMode.Decompress);
        using var memory = new MemoryStream();
        gzip.CopyTo(memory);
        var bytes = memory.ToArray();
        var digits = new List<(byte, byte[])>();
        for (var at = 0; at < bytes.Length; at += 785)
        {
            digits.Add((bytes[at], bytes[(at + 1)..(at + 785)]));
        }

        return digits;
    }
}
