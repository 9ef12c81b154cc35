using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;

namespace Lustre.Benchmarks.Io500;

/// <summary>Our side: one task's <see cref="LustreClient"/>, under a root directory of the filesystem.</summary>
internal sealed class LustreIo500Storage(LustreClient client, string root, long stripeSize) : IIo500Storage
{
    private readonly FileLayout _striped = FileLayout.Raid0(stripeSize, stripeCount: -1);

    public LustreClient Client => client;

    private string Full(string path) => path.Length == 0 ? root : $"{root}/{path}";

    public async ValueTask CreateDirectoryAsync(string path) => await client.CreateDirectoryAsync(Full(path));

    public async ValueTask<IIo500File> OpenWriteAsync(string path, bool striped) =>
        new File(await client.OpenFileAsync(Full(path), FileMode.OpenOrCreate, striped ? _striped : null, FileAccess.Write));

    public async ValueTask<IIo500File> OpenReadAsync(string path) =>
        new File(await client.OpenFileAsync(Full(path), FileMode.Open, layout: null, FileAccess.Read));

    public async ValueTask CreateEmptyAsync(string path)
    {
        // Open with create, then close: the MDS commits the create before it answers.
        await using var file = await client.OpenFileAsync(Full(path), FileMode.CreateNew, layout: null, FileAccess.Write);
    }

    public async ValueTask CreateWithDataAsync(string path, ReadOnlyMemory<byte> data)
    {
        // Dispose flushes: the object is fsynced on its OST and the size recorded on the MDS.
        await using var file = await client.OpenFileAsync(Full(path), FileMode.CreateNew, layout: null, FileAccess.Write);
        await file.WriteAtAsync(0, data);
    }

    public async ValueTask<int> ReadSmallAsync(string path, Memory<byte> buffer)
    {
        await using var file = await client.OpenFileAsync(Full(path), FileMode.Open, layout: null, FileAccess.Read);
        return await file.ReadAtAsync(0, buffer);
    }

    public async ValueTask<long> StatAsync(string path) => (await client.GetInfoAsync(Full(path))).Length;

    public async ValueTask DeleteAsync(string path) => await client.DeleteFileAsync(Full(path));

    public async ValueTask DeleteDirectoryAsync(string path) => await client.DeleteDirectoryAsync(Full(path));

    public async IAsyncEnumerable<(string Name, bool IsDirectory)> ListAsync(string path)
    {
        await foreach (var entry in client.EnumerateDirectoryAsync(Full(path)))
        {
            yield return (entry.Name, entry.IsDirectory);
        }
    }

    private sealed class File(LustreFile file) : IIo500File
    {
        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data) => file.WriteAtAsync(offset, data);

        public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer) => await file.ReadAtAsync(offset, buffer);

        public async ValueTask FlushAsync() => await file.FlushAsync();

        public ValueTask DisposeAsync() => file.DisposeAsync();
    }
}
