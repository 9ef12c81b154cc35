namespace Lustre.Benchmarks.Io500;

/// <summary>
/// What one IO500 task needs from a filesystem, so the very same phase code runs against our client and, as the
/// baseline, against the local filesystem. Paths are relative to the run's root and use '/'.
/// </summary>
internal interface IIo500Storage
{
    ValueTask CreateDirectoryAsync(string path);

    /// <summary>
    /// Makes <paramref name="path"/> keep the first <paramref name="dataOnMdtBytes"/> bytes of its new files on the MDT
    /// (Data-on-MDT, as Lustre sites set mdtest-hard's directory up); nothing on a local filesystem.
    /// </summary>
    ValueTask KeepSmallFilesOnMdtAsync(string path, long dataOnMdtBytes);

    /// <summary>Opens for writing, creating it if needed (several tasks may open a shared file at once); <paramref name="striped"/>: over all OSTs.</summary>
    ValueTask<IIo500File> OpenWriteAsync(string path, bool striped);

    ValueTask<IIo500File> OpenReadAsync(string path);

    /// <summary>mdtest's create: a new empty file, durable before this returns.</summary>
    ValueTask CreateEmptyAsync(string path);

    /// <summary>mdtest-hard's create: a new file holding <paramref name="data"/>, durable before this returns.</summary>
    ValueTask CreateWithDataAsync(string path, ReadOnlyMemory<byte> data);

    /// <summary>Reads a whole small file into <paramref name="buffer"/>; returns the bytes read.</summary>
    ValueTask<int> ReadSmallAsync(string path, Memory<byte> buffer);

    /// <summary>The file's size (a stat).</summary>
    ValueTask<long> StatAsync(string path);

    ValueTask DeleteAsync(string path);

    ValueTask DeleteDirectoryAsync(string path);

    /// <summary>A directory's entries: name and whether it is a directory.</summary>
    IAsyncEnumerable<(string Name, bool IsDirectory)> ListAsync(string path);
}

/// <summary>An open file with positional I/O.</summary>
internal interface IIo500File : IAsyncDisposable
{
    ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data);

    ValueTask<int> ReadAsync(long offset, Memory<byte> buffer);

    /// <summary>Makes every write durable (IOR's fsync at close).</summary>
    ValueTask FlushAsync();
}
