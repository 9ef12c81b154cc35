using System.Buffers;
using System.Runtime.CompilerServices;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Threading;

namespace Lustre.IO;

/// <summary>
/// A <see cref="Stream"/> over a striped file. Sequential reads are detected and read ahead in a window that
/// doubles up to <c>LustreClientOptions.ReadaheadBudget</c>, except large ones while other streams of the process keep
/// the servers busy, which go straight into the caller's buffer (<see cref="Crowded"/>); reads of one length at a fixed
/// step (seek, read, seek, read) are read ahead in batches (<see cref="StrideReadahead"/>); writes are copied into chunks
/// of a full stripe row and sent in the background (write-behind) while at most <c>DirtyBudget</c> bytes are
/// outstanding. Every chunk fans out to all the OSTs it covers at once. <see cref="FlushAsync(CancellationToken)"/>
/// returns when every byte written is durable on its OST and the size is recorded on the MDS; disposing flushes too.
/// The async methods are the fast path; the sync ones block on them.
/// </summary>
/// <remarks>
/// Cancellation stops a call promptly and leaves the stream usable. A cancelled <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
/// throws <see cref="OperationCanceledException"/> with <see cref="Position"/> after the last byte it accepted: the bytes
/// before it are written as if the call had succeeded (in the background, durable at the next flush or dispose), those
/// after it are not written at all — so a caller that noted the position before the call knows what to write again. A
/// cancelled read moves the position by nothing, or returns the bytes it has already copied. A cancelled flush stops
/// waiting; the bytes stay queued and the next flush makes them durable. A cancelled <see cref="SetLengthAsync"/> may
/// have changed the size of some objects only: call it again.
/// </remarks>
public sealed class LustreStream : Stream
{
    private const int MinChunk = 1 << 20;
    private const int MaxChunk = 16 << 20;

    /// <summary>
    /// Other streams of this process with reads in flight, every client's, that keep the OSTs' RPC windows busy
    /// without this one reading ahead (see <see cref="Crowded"/>).
    /// </summary>
    private const int CrowdedStreams = 4;

    /// <summary>
    /// Streams of this process with at least one read in flight (<see cref="_readsInFlight"/> above zero): a
    /// <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> that reads the OSTs, sequential or not, or a readahead
    /// fill. <see cref="ReadAtAsync"/> goes straight to the file and is not counted.
    /// </summary>
    private static int s_busyStreams;
    private readonly LustreFile _file;
    private readonly bool _canRead;
    private readonly bool _canWrite;
    private readonly int _chunkSize;
    private readonly int _maxRpcsInFlight;
    private readonly long _dirtyBudget;
    private readonly List<Segment> _readahead = [];
    private readonly StrideReadahead _strides;
    private readonly Queue<PendingWrite> _writes = new();
    private long _position;
    private long _pendingEnd;
    private long _inFlightBytes;
    private byte[]? _writeBuffer;
    private long _writeOffset;
    private int _writeCount;
    private long _lastReadEnd;
    private long _window;
    private int _readsInFlight;
    private bool _disposed;

    internal LustreStream(LustreFile file, FileAccess access, bool append)
    {
        _file = file;
        _canRead = (access & FileAccess.Read) != 0;
        _canWrite = (access & FileAccess.Write) != 0 && file.CanWrite;
        var options = file.Session.Options;
        _dirtyBudget = options.DirtyBudget;
        var first = file.Layout.Components[0];
        var row = first.StripeSize * Math.Max(1, first.Objects.Count);
        _chunkSize = (int)Math.Clamp(row, MinChunk, MaxChunk);

        _maxRpcsInFlight = options.MaxRpcsInFlightPerOst;
        _position = append ? file.Length : 0;
        _lastReadEnd = 0;
        _strides = new StrideReadahead(file);
    }

    /// <summary>
    /// The most this stream reads ahead now: the client's <c>llite.*.max_read_ahead_per_file_mb</c> (read at each read, so
    /// a <c>set_param</c> applies to open streams), but no more than the OSTs' RPC windows carry: more only queues here.
    /// </summary>
    private long ReadaheadBudget => Math.Min(_file.Session.Parameters.ReadaheadBudget, (long)_chunkSize * _maxRpcsInFlight);

    /// <summary>
    /// True while at least <see cref="CrowdedStreams"/> other streams of this process have reads in flight. Then a
    /// sequential read of at least <see cref="MinChunk"/> goes straight into the caller's buffer and the stream starts
    /// no readahead: the other streams' RPCs keep the OSTs busy, so reading ahead would add a copy per byte (out of its
    /// segment into the caller's buffer) and no overlap. Process-wide, as Lustre's readahead limits are per client
    /// node; see docs/benchmarks.md, "Crowded stream reads go straight into the caller's buffer".
    /// </summary>
    private bool Crowded => Volatile.Read(ref s_busyStreams) - (Volatile.Read(ref _readsInFlight) > 0 ? 1 : 0) >= CrowdedStreams;

    /// <summary>Streams of this process with reads in flight now.</summary>
    internal static int BusyStreams => Volatile.Read(ref s_busyStreams);

    /// <summary>Reads the file at <paramref name="offset"/>, counted as a read of this stream in flight (for <see cref="Crowded"/>).</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<int> ReadCountedAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _readsInFlight) == 1)
        {
            Interlocked.Increment(ref s_busyStreams);
        }

        try
        {
            return await _file.ReadAtAsync(offset, buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (Interlocked.Decrement(ref _readsInFlight) == 0)
            {
                Interlocked.Decrement(ref s_busyStreams);
            }
        }
    }

    /// <summary>This stream's stride readahead (its counts, for tests).</summary>
    internal StrideReadahead Strides => _strides;

    /// <summary>The file under the stream, for positional reads and writes and its layout.</summary>
    public LustreFile File => _file;

    /// <inheritdoc/>
    public override bool CanRead => !_disposed && _canRead;

    /// <inheritdoc/>
    public override bool CanWrite => !_disposed && _canWrite;

    /// <inheritdoc/>
    public override bool CanSeek => !_disposed;

    /// <summary>The size, including bytes written through this stream that are still on their way.</summary>
    public override long Length
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var length = Math.Max(_file.Length, _pendingEnd);
            return _writeBuffer is null ? length : Math.Max(length, _writeOffset + _writeCount);
        }
    }

    /// <inheritdoc/>
    public override long Position
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _position;
        }

        set
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, Protocol.ProtocolLimits.MaxFileSize);
            _position = value;
        }
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin)
    {
        var target = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => Length + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, null),
        };
        if (target < 0)
        {
            throw new IOException($"Seek to {target} is before the beginning of {_file.Path}.");
        }

        Position = target;
        return target;
    }

    /// <summary>Reads at an offset without moving <see cref="Position"/>; thread-safe (see <see cref="LustreFile.ReadAtAsync(long, Memory{byte}, CancellationToken)"/>).</summary>
    public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        _file.ReadAtAsync(offset, buffer, cancellationToken);

    /// <summary>
    /// Writes at an offset without moving <see cref="Position"/>; thread-safe (see <see cref="LustreFile.WriteAtAsync"/>).
    /// It goes straight to the file: bytes the stream has already read ahead (sequential or strided) keep what they
    /// held, as another client's write would leave them; write through <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>
    /// to read your writes back through the stream.
    /// </summary>
    public ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        _file.WriteAtAsync(offset, data, cancellationToken);

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_canRead)
        {
            throw new NotSupportedException($"{_file.Path} was opened without read access.");
        }

        cancellationToken.ThrowIfCancellationRequested();

        if (_writeBuffer is not null || _writes.Count > 0)
        {
            // Read-your-writes: what this stream wrote must be on the OSTs before it can be read back.
            await DrainWritesAsync(cancellationToken).ConfigureAwait(false);
        }

        var length = _file.Length;
        if (_position >= length || buffer.IsEmpty)
        {
            return 0;
        }

        var count = (int)Math.Min(buffer.Length, length - _position);
        var sequential = _position == _lastReadEnd;
        var budget = ReadaheadBudget;
        if (!sequential || budget < _chunkSize)
        {
            DropReadahead();
            _window = 0;
            if (sequential)
            {
                _strides.Reset();
            }

            var strided = sequential ? -1 : await _strides.TryReadAsync(_position, buffer[..count], budget, cancellationToken).ConfigureAwait(false);
            var direct = strided >= 0 ? strided : await ReadCountedAsync(_position, buffer[..count], cancellationToken).ConfigureAwait(false);
            Advance(direct);
            return direct;
        }

        _strides.Reset();

        _window = Math.Min(budget, Math.Max(_chunkSize, _window * 2));
        var done = 0;
        // Crowding changes only reads of at least MinChunk: a smaller one always needs a segment to copy from.
        var crowded = count >= MinChunk && Crowded;
        if (FindSegment(_position) is null && (count >= _chunkSize || crowded))
        {
            // A large read with nothing prefetched goes straight into the caller's buffer, no copy.
            done = await ReadCountedAsync(_position, buffer[..count], cancellationToken).ConfigureAwait(false);
            Advance(done);
            if (!crowded)
            {
                StartReadahead(length);
            }

            return done;
        }

        if (!crowded)
        {
            StartReadahead(length);
        }

        while (done < count)
        {
            var segment = FindSegment(_position);
            if (segment is null)
            {
                break;
            }

            int filled;
            try
            {
                filled = await segment.Fill.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (done > 0)
            {
                // The bytes already copied are the caller's: a short read, not a loss.
                break;
            }

            var start = (int)(_position - segment.Offset);
            var available = filled - start;
            if (available <= 0)
            {
                break;
            }

            var take = Math.Min(available, count - done);
            segment.Buffer.AsSpan(start, take).CopyTo(buffer.Span[done..]);
            done += take;
            Advance(take);
        }

        DropBefore(_position);
        if (!crowded)
        {
            StartReadahead(length);
        }

        return done;
    }

    private void Advance(int count)
    {
        _position += count;
        _lastReadEnd = _position;
    }

    private Segment? FindSegment(long offset)
    {
        foreach (var segment in _readahead)
        {
            if (offset >= segment.Offset && offset < segment.Offset + segment.Length)
            {
                return segment;
            }
        }

        return null;
    }

    /// <summary>Keeps chunk-aligned reads in flight from the current position up to the window.</summary>
    private void StartReadahead(long length)
    {
        var next = _position / _chunkSize * _chunkSize;
        var limit = Math.Min(length, _position + _window);
        while (next < limit)
        {
            if (FindSegment(next) is null)
            {
                var size = (int)Math.Min(_chunkSize, length - next);
                var buffer = BulkPool.Shared.Rent(size);
                var fill = ReadCountedAsync(next, buffer.AsMemory(0, size), CancellationToken.None).AsTask();
                _readahead.Add(new Segment(next, size, buffer, fill));
            }

            next += _chunkSize;
        }
    }

    private void DropBefore(long offset)
    {
        for (var i = _readahead.Count - 1; i >= 0; i--)
        {
            var segment = _readahead[i];
            if (segment.Offset + segment.Length <= offset)
            {
                _readahead.RemoveAt(i);
                Release(segment);
            }
        }
    }

    private void DropReadahead()
    {
        foreach (var segment in _readahead)
        {
            Release(segment);
        }

        _readahead.Clear();
    }

    /// <summary>Everything read ahead, sequential or strided: before a write or a truncate, and at the end.</summary>
    private void DropAllReadahead()
    {
        DropReadahead();
        _strides.Reset();
    }

    /// <summary>Returns a segment's buffer once nothing can still be receiving into it.</summary>
    private static void Release(Segment segment) => BulkPool.ReturnWhenDone(segment.Fill, segment.Buffer);

    /// <inheritdoc/>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_canWrite)
        {
            throw new NotSupportedException($"{_file.Path} was opened without write access.");
        }

        if (_position > Protocol.ProtocolLimits.MaxFileSize - buffer.Length)
        {
            throw new IOException($"Writing {buffer.Length} bytes at {_position} goes past the maximum file size of {Protocol.ProtocolLimits.MaxFileSize} bytes of {_file.Path}.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        DropAllReadahead();

        while (!buffer.IsEmpty)
        {
            if (_writeBuffer is not null && _writeOffset + _writeCount != _position)
            {
                await SubmitBufferAsync(cancellationToken).ConfigureAwait(false);
            }

            // Checked once per chunk: what is before Position is accepted, nothing after it (see the remarks).
            cancellationToken.ThrowIfCancellationRequested();
            if (_writeBuffer is null)
            {
                _writeBuffer = BulkPool.Shared.Rent(_chunkSize);
                _writeOffset = _position;
                _writeCount = 0;
            }

            // Fill up to the next chunk boundary, so bulk RPCs stay aligned with the stripes.
            var room = (int)Math.Min(_chunkSize - _writeCount, _chunkSize - (_writeOffset + _writeCount) % _chunkSize);
            var take = Math.Min(room, buffer.Length);
            buffer.Span[..take].CopyTo(_writeBuffer.AsSpan(_writeCount));
            _writeCount += take;
            _position += take;
            buffer = buffer[take..];
            if (take == room)
            {
                await SubmitBufferAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Sends the write buffer in the background, keeping byte order and the dirty budget. The writes sent are not
    /// cancellable (their bytes were accepted); cancelling stops the waits, leaving the buffer or the queue as it was.
    /// </summary>
    private async ValueTask SubmitBufferAsync(CancellationToken cancellationToken)
    {
        var offset = _writeOffset;
        var count = _writeCount;

        // A rewrite of bytes still in flight must land after them: wait for any overlapping write first.
        foreach (var pending in _writes)
        {
            if (pending.Offset < offset + count && offset < pending.Offset + pending.Length)
            {
                await pending.Task.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }

        var buffer = _writeBuffer!;
        _writeBuffer = null;
        _writeCount = 0;
        if (count == 0)
        {
            BulkPool.Shared.Return(buffer);
            return;
        }

        var task = _file.WriteAtAsync(offset, buffer.AsMemory(0, count), CancellationToken.None).AsTask();
        _writes.Enqueue(new PendingWrite(offset, count, buffer, task));
        _inFlightBytes += count;
        _pendingEnd = Math.Max(_pendingEnd, offset + count);
        while (_inFlightBytes > _dirtyBudget && _writes.Count > 0)
        {
            await CompleteOldestAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the oldest write in flight and returns its buffer; cancelled, the write stays queued.</summary>
    private async ValueTask CompleteOldestAsync(CancellationToken cancellationToken)
    {
        var oldest = _writes.Peek();
        if (!oldest.Task.IsCompleted)
        {
            await oldest.Task.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!oldest.Task.IsCompleted)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        _writes.Dequeue();
        _inFlightBytes -= oldest.Length;
        try
        {
            await oldest.Task.ConfigureAwait(false);
        }
        finally
        {
            BulkPool.Shared.Return(oldest.Buffer);
        }
    }

    /// <summary>Sends what is buffered and waits for every write in flight.</summary>
    private async ValueTask DrainWritesAsync(CancellationToken cancellationToken)
    {
        if (_writeBuffer is not null)
        {
            await SubmitBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        Exception? first = null;
        while (_writes.Count > 0)
        {
            try
            {
                await CompleteOldestAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                first ??= ex;
            }
        }

        if (first is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }

    /// <summary>Sends buffered writes, waits for them, and makes every byte durable (fsync on each OST) with the size on the MDS.</summary>
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (!_canWrite)
        {
            return;
        }

        await DrainWritesAsync(cancellationToken).ConfigureAwait(false);
        await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Truncates or extends the file (the extension reads as zeros). A position past the new end moves to it, as <see cref="FileStream"/>'s does.</summary>
    public Task SetLengthAsync(long value, CancellationToken cancellationToken = default) => SetLengthCoreAsync(value, cancellationToken);

    private async Task SetLengthCoreAsync(long value, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        if (!_canWrite)
        {
            throw new NotSupportedException($"{_file.Path} was opened without write access.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        await DrainWritesAsync(cancellationToken).ConfigureAwait(false);
        DropAllReadahead();
        await _file.SetLengthAsync(value, cancellationToken).ConfigureAwait(false);
        _pendingEnd = value;
        _position = Math.Min(_position, value);
    }

    /// <inheritdoc/>
    public override void SetLength(long value) => SetLengthCoreAsync(value, CancellationToken.None).GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Wait(ReadAsync(buffer.AsMemory(offset, count)));
    }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            var read = Wait(ReadAsync(rented.AsMemory(0, buffer.Length)));
            rented.AsSpan(0, read).CopyTo(buffer);
            return read;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        Wait(WriteAsync(buffer.AsMemory(offset, count)));
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            buffer.CopyTo(rented);
            Wait(WriteAsync(rented.AsMemory(0, buffer.Length)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The synchronous methods block on the async path. Most calls complete at once (a read served from readahead, a
    /// write copied into the write-behind buffer) and cost no task; only a call that waits for an RPC makes one.
    /// </summary>
    private static int Wait(ValueTask<int> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask pending)
    {
        if (pending.IsCompletedSuccessfully)
        {
            return;
        }

        pending.AsTask().GetAwaiter().GetResult();
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            if (_canWrite)
            {
                await FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            _disposed = true;
            DropAllReadahead();
            await _file.DisposeAsync().ConfigureAwait(false);
            GC.SuppressFinalize(this);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        base.Dispose(disposing);
    }

    private sealed record Segment(long Offset, int Length, byte[] Buffer, Task<int> Fill);

    private sealed record PendingWrite(long Offset, int Length, byte[] Buffer, Task Task);
}
