using Lustre.IO;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Cli;

/// <summary>Where <c>cp</c> reads bytes from: positional when the length is known, else in order.</summary>
internal interface ICopySource : IAsyncDisposable
{
    /// <summary>The length, or null for a stream (standard input) that can only be read in order.</summary>
    long? Length { get; }

    /// <summary>Reads up to buffer.Length bytes at offset; fewer only at the end.</summary>
    ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken);
}

/// <summary>Where <c>cp</c> writes bytes to, at any offset and in parallel.</summary>
internal interface ICopyDestination : IAsyncDisposable
{
    ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Makes every byte durable (fsync on each OST object and the size on the MDS, or fsync of a local file).</summary>
    Task CompleteAsync(CancellationToken cancellationToken);
}

internal sealed class ClusterSource(LustreFile file) : ICopySource
{
    public long? Length => file.Length;

    public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        file.ReadAtAsync(offset, buffer, cancellationToken);

    public ValueTask DisposeAsync() => file.DisposeAsync();
}

internal sealed class ClusterDestination(LustreFile file) : ICopyDestination
{
    public ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        file.WriteAtAsync(offset, data, cancellationToken);

    public Task CompleteAsync(CancellationToken cancellationToken) => file.FlushAsync(cancellationToken);

    public ValueTask DisposeAsync() => file.DisposeAsync();
}

internal sealed class LocalSource : ICopySource
{
    private readonly SafeFileHandle _handle;

    public LocalSource(string path)
    {
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        Length = RandomAccess.GetLength(_handle);
    }

    public long? Length { get; }

    public async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // RandomAccess may return less than asked before the end; fill the buffer so chunks stay aligned.
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await RandomAccess.ReadAsync(_handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    public ValueTask DisposeAsync()
    {
        _handle.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal sealed class LocalDestination(string path) : ICopyDestination
{
    private readonly FileStream _stream = new(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);

    public ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        RandomAccess.WriteAsync(_stream.SafeFileHandle, data, offset, cancellationToken);

    public Task CompleteAsync(CancellationToken cancellationToken)
    {
        _stream.Flush(flushToDisk: true);
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}

/// <summary>Standard input (<c>cp - DST</c>): read in order, so the copy of that one file is sequential.</summary>
internal sealed class StreamSource(Stream stream) : ICopySource
{
    public long? Length => null;

    public async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken) =>
        await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);

    public ValueTask DisposeAsync() => stream.DisposeAsync();
}
