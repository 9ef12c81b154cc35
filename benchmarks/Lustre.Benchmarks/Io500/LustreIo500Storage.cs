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

    // lfs setstripe -E SIZE -L mdt -E -1 -c 1 DIR: the rest of a file, if any, on one OST.
    public async ValueTask KeepSmallFilesOnMdtAsync(string path, long dataOnMdtBytes) =>
        await client.SetDirectoryLayoutAsync(Full(path), FileLayout.Composite(
            [LayoutComponent.DataOnMdt(dataOnMdtBytes), new LayoutComponent(dataOnMdtBytes, LayoutComponent.Eof, stripeSize, 1)]));

    // Through LustreStream, as IOR's POSIX calls go through a Lustre client's readahead and write-behind.
    public async ValueTask<IIo500File> OpenWriteAsync(string path, bool striped) =>
        new File(await client.OpenStreamAsync(Full(path), FileMode.OpenOrCreate, FileAccess.Write, striped ? _striped : null));

    public async ValueTask<IIo500File> OpenReadAsync(string path) =>
        new File(await client.OpenStreamAsync(Full(path), FileMode.Open, FileAccess.Read));

    // One MDS operation: the MDS commits the create (group commit) before it answers.
    public async ValueTask CreateEmptyAsync(string path) => await client.CreateFileAsync(Full(path));

    // Durable when it returns. Within the directory's Data-on-MDT component, one MDS operation (the create carries the
    // bytes); otherwise create, write (fsynced on its OST) and close with the size.
    public async ValueTask CreateWithDataAsync(string path, ReadOnlyMemory<byte> data) => await client.CreateFileAsync(Full(path), data);

    public async ValueTask<int> ReadSmallAsync(string path, Memory<byte> buffer)
    {
        await using var file = await client.OpenFileAsync(Full(path), FileMode.Open, FileAccess.Read);
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

    /// <summary>
    /// Reads go through the stream as IOR's POSIX reads go through a Lustre client's page cache (lseek, then read):
    /// ior-easy's sequential transfers meet its readahead, ior-hard's records its stride readahead. Sequential writes
    /// (ior-easy) use the stream's write-behind; ior-hard's interleaved records are written positionally.
    /// </summary>
    private sealed class File(LustreStream stream) : IIo500File
    {
        public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data)
        {
            if (offset == stream.Position)
            {
                await stream.WriteAsync(data);
            }
            else
            {
                await stream.WriteAtAsync(offset, data);
            }
        }

        public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer)
        {
            stream.Position = offset;
            var total = 0;
            while (total < buffer.Length)
            {
                var read = await stream.ReadAsync(buffer[total..]);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }

        public async ValueTask FlushAsync() => await stream.FlushAsync();

        public ValueTask DisposeAsync() => stream.DisposeAsync();
    }
}
