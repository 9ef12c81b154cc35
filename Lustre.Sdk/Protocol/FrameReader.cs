using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Lustre.Threading;

namespace Lustre.Protocol;

/// <summary>
/// Reads frames from a socket, or from TLS over it. Headers and bodies go through a small receive buffer; large
/// reads (bulk) go from the socket straight into the caller's memory once the few bytes already
/// buffered are copied, so bulk data is received with no intermediate copy (with TLS, decrypted straight there).
/// </summary>
internal sealed class FrameReader : IDisposable
{
    private const int BufferSize = 64 * 1024;

    /// <summary>Segments of a scatter receive at least this long are received into directly; smaller ones through the buffer.</summary>
    internal const int DirectSegment = 16 * 1024;

    private readonly Socket _socket;
    private readonly Stream? _secure;
    private byte[] _buffer;
    private int _start;
    private int _end;

    /// <summary>Reads <paramref name="socket"/>, or <paramref name="secure"/> (TLS over it) when given.</summary>
    public FrameReader(Socket socket, Stream? secure = null)
    {
        _socket = socket;
        _secure = secure;
        _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    }

    private ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken cancellationToken) =>
        _secure is null ? _socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken) : _secure.ReadAsync(destination, cancellationToken);

    private int Buffered => _end - _start;

    /// <summary>Whether the next frame header has arrived already (reading it will not wait).</summary>
    public bool HasHeader => Buffered >= FrameHeader.Size;

    /// <summary>Whether the next <paramref name="count"/> bytes have arrived already.</summary>
    public bool HasBuffered(long count) => Buffered >= count;

    /// <summary>
    /// Reads the next header. Returns false when the peer closed the connection cleanly between frames;
    /// throws <see cref="EndOfStreamException"/> when it closed inside one.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<(bool HasFrame, FrameError Error, FrameHeader Header)> ReadHeaderAsync(
        int maxBodyLength, int maxBulkLength, CancellationToken cancellationToken)
    {
        while (Buffered < FrameHeader.Size)
        {
            if (!await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                if (Buffered == 0)
                {
                    return (false, FrameError.None, default);
                }

                throw new EndOfStreamException($"Connection closed inside a frame header ({Buffered} of {FrameHeader.Size} bytes).");
            }
        }

        var error = FrameHeader.TryRead(_buffer.AsSpan(_start, FrameHeader.Size), maxBodyLength, maxBulkLength, out var header);
        _start += FrameHeader.Size;
        return (true, error, header);
    }

    /// <summary>Fills <paramref name="destination"/> completely, from the buffer first, then straight from the socket.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var fromBuffer = Math.Min(Buffered, destination.Length);
        if (fromBuffer > 0)
        {
            _buffer.AsSpan(_start, fromBuffer).CopyTo(destination.Span);
            _start += fromBuffer;
            destination = destination[fromBuffer..];
        }

        while (!destination.IsEmpty)
        {
            var read = await ReceiveAsync(destination, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new EndOfStreamException($"Connection closed with {destination.Length} bytes of the frame still to come.");
            }

            destination = destination[read..];
        }
    }

    /// <summary>
    /// Fills <paramref name="segments"/> in order with the next <paramref name="count"/> bytes (a scatter receive). A
    /// segment of at least <see cref="DirectSegment"/> bytes is received straight into, as one buffer is; a smaller one
    /// goes through the receive buffer, so a run of small segments costs one receive for many, not one each.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask ReadSegmentsAsync(Memory<byte>[] segments, int count, CancellationToken cancellationToken)
    {
        foreach (var whole in segments)
        {
            if (count == 0)
            {
                return;
            }

            var segment = whole[..Math.Min(count, whole.Length)];
            count -= segment.Length;
            // A small segment takes what is buffered, then fills the emptied buffer: filling first, as a header does,
            // would move the buffered bytes to the buffer's front before copying them out (a few % slower in two
            // alternating folder runs of 1–16 KiB files, an indication).
            while (segment.Length < DirectSegment && Buffered < segment.Length)
            {
                var buffered = Buffered;
                if (buffered > 0)
                {
                    _buffer.AsSpan(_start, buffered).CopyTo(segment.Span);
                    _start += buffered;
                    segment = segment[buffered..];
                }

                if (!await FillAsync(cancellationToken).ConfigureAwait(false))
                {
                    throw new EndOfStreamException($"Connection closed with {segment.Length + count} bytes of the frame still to come.");
                }
            }

            await ReadExactlyAsync(segment, cancellationToken).ConfigureAwait(false);
        }

        if (count > 0)
        {
            // The caller checks the bulk against the segments first; reading on would lose the frame boundary.
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} bytes of the bulk are left over after its segments are full.");
        }
    }

    /// <summary>Reads and drops <paramref name="count"/> bytes (a bulk nobody waits for).</summary>
    public async ValueTask SkipAsync(int count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            if (Buffered == 0 && !await FillAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new EndOfStreamException($"Connection closed with {count} bytes of the frame still to come.");
            }

            var take = Math.Min(count, Buffered);
            _start += take;
            count -= take;
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, Buffered);
            _end -= _start;
            _start = 0;
        }

        var read = await ReceiveAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
        _end += read;
        return read > 0;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
