using Microsoft.Win32.SafeHandles;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// The baseline: the same phases on the local filesystem through <see cref="FileStream"/>/<see cref="File"/> and
/// <see cref="RandomAccess"/>, synchronous (each task gets its own thread, as ior/mdtest ranks do). Creates are
/// durable per operation: an fsync of the new file, which on ext4 commits the journal transaction holding its
/// directory entry too.
/// </summary>
internal sealed class LocalIo500Storage(string root) : IIo500Storage
{
    private string Full(string path) => path.Length == 0 ? root : Path.Combine(root, path);

    public ValueTask KeepSmallFilesOnMdtAsync(string path, long dataOnMdtBytes) => ValueTask.CompletedTask;

    public ValueTask CreateDirectoryAsync(string path)
    {
        Directory.CreateDirectory(Full(path));
        return ValueTask.CompletedTask;
    }

    public ValueTask<IIo500File> OpenWriteAsync(string path, bool striped) =>
        ValueTask.FromResult<IIo500File>(new LocalFile(new FileStream(Full(path), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0)));

    public ValueTask<IIo500File> OpenReadAsync(string path) =>
        ValueTask.FromResult<IIo500File>(new LocalFile(new FileStream(Full(path), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0)));

    public ValueTask CreateEmptyAsync(string path)
    {
        using var stream = new FileStream(Full(path), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        stream.Flush(flushToDisk: true);
        return ValueTask.CompletedTask;
    }

    public ValueTask CreateWithDataAsync(string path, ReadOnlyMemory<byte> data)
    {
        using var stream = new FileStream(Full(path), FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);
        stream.Write(data.Span);
        stream.Flush(flushToDisk: true);
        return ValueTask.CompletedTask;
    }

    public ValueTask<int> ReadSmallAsync(string path, Memory<byte> buffer)
    {
        using SafeFileHandle handle = File.OpenHandle(Full(path));
        return ValueTask.FromResult(RandomAccess.Read(handle, buffer.Span, 0));
    }

    public ValueTask<long> StatAsync(string path) => ValueTask.FromResult(new FileInfo(Full(path)).Length);

    public ValueTask DeleteAsync(string path)
    {
        File.Delete(Full(path));
        return ValueTask.CompletedTask;
    }

    public ValueTask DeleteDirectoryAsync(string path)
    {
        Directory.Delete(Full(path));
        return ValueTask.CompletedTask;
    }

    public async IAsyncEnumerable<(string Name, bool IsDirectory)> ListAsync(string path)
    {
        await Task.CompletedTask;
        foreach (var entry in new DirectoryInfo(Full(path)).EnumerateFileSystemInfos())
        {
            yield return (entry.Name, entry is DirectoryInfo);
        }
    }

    private sealed class LocalFile(FileStream stream) : IIo500File
    {
        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data)
        {
            RandomAccess.Write(stream.SafeFileHandle, data.Span, offset);
            return ValueTask.CompletedTask;
        }

        public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = RandomAccess.Read(stream.SafeFileHandle, buffer.Span[total..], offset + total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return ValueTask.FromResult(total);
        }

        public ValueTask FlushAsync()
        {
            stream.Flush(flushToDisk: true);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => stream.DisposeAsync();
    }
}
