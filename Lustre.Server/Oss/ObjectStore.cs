using System.Runtime.CompilerServices;
using Lustre.Protocol;
using Lustre.Server.Rpc;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// One OST: a directory of object files on the local filesystem, as Lustre's ldiskfs OSTs keep one file per
/// object. Objects live in 256 sharded subdirectories (<c>objects/ab/&lt;id&gt;</c>) so no folder holds millions
/// of files. I/O is positional (<see cref="RandomAccess"/>) through a bounded cache of open handles.
/// </summary>
internal sealed class ObjectStore : IDisposable
{
    private const int ErrnoNoSpace = 28;
    private readonly string _objectsRoot;
    private readonly HandleCache _handles;
    private long _objectCount;

    public ObjectStore(int index, string root, int handleCacheSize = 256)
    {
        Index = index;
        Root = root;
        _objectsRoot = Path.Combine(root, "objects");
        Directory.CreateDirectory(_objectsRoot);
        _handles = new HandleCache(handleCacheSize);
        foreach (var shard in Directory.EnumerateDirectories(_objectsRoot))
        {
            _objectCount += Directory.EnumerateFiles(shard).LongCount();
        }
    }

    public int Index { get; }

    public string Root { get; }

    public long ObjectCount => Interlocked.Read(ref _objectCount);

    /// <summary>Lustre's target name, e.g. lustre-OST0003.</summary>
    public static string TargetName(string fsName, int index) => $"{fsName}-OST{index:X4}";

    private string PathOf(ulong objectId) => Path.Combine(_objectsRoot, (objectId & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture), objectId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Reads into <paramref name="destination"/>; returns how many bytes the object has there (0 for a missing object).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReadAsync(ulong objectId, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var lease = OpenExisting(objectId);
        if (lease.Handle is null)
        {
            return 0;
        }

        var total = 0;
        while (total < destination.Length)
        {
            var read = await RandomAccess.ReadAsync(lease.Handle, destination[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask WriteAsync(ulong objectId, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var lease = OpenOrCreate(objectId);
        try
        {
            await RandomAccess.WriteAsync(lease.Handle!, data, offset, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex) when (IsNoSpace(ex))
        {
            throw new RpcStatusException(LustreErrno.ENOSPC, $"OST{Index:X4} is full: no space for {data.Length} bytes of object {objectId:x}");
        }
    }

    /// <summary>Sets the object's size: truncates, or extends with a hole.</summary>
    public void Punch(ulong objectId, long size)
    {
        if (size == 0 && !File.Exists(PathOf(objectId)))
        {
            return;
        }

        using var lease = OpenOrCreate(objectId);
        RandomAccess.SetLength(lease.Handle!, size);
    }

    /// <summary>Makes the object's data durable (fsync).</summary>
    public void Sync(ulong objectId)
    {
        using var lease = OpenExisting(objectId);
        if (lease.Handle is not null)
        {
            RandomAccess.FlushToDisk(lease.Handle);
        }
    }

    public (bool Exists, long Size, long Allocated) GetAttributes(ulong objectId)
    {
        var info = new FileInfo(PathOf(objectId));
        return info.Exists ? (true, info.Length, info.Length) : (false, 0, 0);
    }

    /// <summary>Removes the object; destroying a missing object succeeds (destroys are retried from the MDS's queue).</summary>
    public void Destroy(ulong objectId)
    {
        _handles.Evict(objectId);
        var path = PathOf(objectId);
        if (File.Exists(path))
        {
            File.Delete(path);
            Interlocked.Decrement(ref _objectCount);
        }
    }

    public (long Total, long Available) SpaceUsage()
    {
        var drive = new DriveInfo(Path.GetFullPath(Root));
        return (drive.TotalSize, drive.AvailableFreeSpace);
    }

    private HandleCache.Lease OpenExisting(ulong objectId)
    {
        var lease = _handles.Acquire(objectId);
        if (lease.Handle is not null)
        {
            return lease;
        }

        try
        {
            var handle = File.OpenHandle(PathOf(objectId), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            return _handles.Install(objectId, handle);
        }
        catch (FileNotFoundException)
        {
            return default;
        }
        catch (DirectoryNotFoundException)
        {
            return default;
        }
    }

    private HandleCache.Lease OpenOrCreate(ulong objectId)
    {
        var lease = _handles.Acquire(objectId);
        if (lease.Handle is not null)
        {
            return lease;
        }

        var path = PathOf(objectId);
        var existed = File.Exists(path);
        SafeFileHandle handle;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (IOException ex) when (IsNoSpace(ex))
        {
            throw new RpcStatusException(LustreErrno.ENOSPC, $"OST{Index:X4} is full: cannot create object {objectId:x}");
        }

        if (!existed)
        {
            Interlocked.Increment(ref _objectCount);
        }

        return _handles.Install(objectId, handle);
    }

    private static bool IsNoSpace(IOException ex) => (ex.HResult & 0xFFFF) == ErrnoNoSpace || ex.Message.Contains("No space left", StringComparison.Ordinal);

    public void Dispose() => _handles.Dispose();
}
