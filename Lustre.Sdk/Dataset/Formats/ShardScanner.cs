using System.Buffers;
using Lustre.IO;

namespace Lustre.Dataset.Formats;

/// <summary>
/// Reads a shard in large chunks for a format's one-pass scan (tar headers, TFRecord lengths): many small header
/// reads become a few multi-MiB requests, and skipping a large member costs no I/O.
/// </summary>
internal sealed class ShardScanner : IDisposable
{
    private const int ChunkSize = 4 << 20;
    private readonly LustreFile _file;
    private byte[] _buffer;
    private long _bufferOffset;
    private int _bufferCount;

    public ShardScanner(LustreFile file)
    {
        _file = file;
        _buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
    }

    public string Path => _file.Path;

    public long Length => _file.Length;

    /// <summary>Returns up to <paramref name="count"/> bytes at <paramref name="offset"/>: fewer only at the end of the file.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadAsync(long offset, int count, CancellationToken cancellationToken)
    {
        if (offset >= _bufferOffset && offset + count <= _bufferOffset + _bufferCount)
        {
            return _buffer.AsMemory((int)(offset - _bufferOffset), count);
        }

        if (_buffer.Length < count)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(count);
        }

        var want = (int)Math.Min(Math.Max(count, ChunkSize), _buffer.Length);
        _bufferOffset = offset;
        _bufferCount = await _file.ReadAtAsync(offset, _buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
        return _buffer.AsMemory(0, Math.Min(count, _bufferCount));
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
