using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Lustre.Threading;

namespace Lustre.Protocol;

/// <summary>
/// Sends whole frames on a socket with write combining. The first sender to find the socket idle becomes the
/// writer: it sends its frame and every frame queued behind it meanwhile in one gathered send (header, body and
/// bulk of each, no copy), so many RPCs in flight cost a few syscalls instead of one or two each. A frame queued
/// while the writer was busy is handed the writer's role when the writer's own batch is done, so no caller waits
/// longer than one batch behind its own frame. A bulk that is not in an array (an OSS's mapping of the page cache)
/// cannot join a gathered send; it goes out in its own send, in its place, without being copied. Over TLS each
/// piece is written to the TLS stream in turn, which encrypts it into records. Two ways make batches where the
/// socket is never busy: a server's reader loop holds the replies to requests that arrived together
/// (<see cref="HoldSends"/>), and a client's frame sent while others are in flight waits behind the thread pool's
/// queued work (<c>othersInFlight</c>), so the frames of callers resuming together leave in one send.
/// </summary>
internal sealed class FrameSender : IDisposable
{
    /// <summary>A batch stops growing past this many bytes, so one writer does not hold large bulks back for long.</summary>
    private const int MaxBatchBytes = 16 << 20;

    /// <summary>The most segments .NET's gathered send takes without allocating (it allocates its vectors past this).</summary>
    private const int GatheredWithoutAllocation = 8;

    /// <summary>The pooled buffers small frames of a long batch are packed into (<see cref="PackSmallSegments"/>).</summary>
    private const int PackBytes = 64 * 1024;

    /// <summary>Over TLS, pieces up to this size are packed into one write (one TLS record holds 16 KiB).</summary>
    private const int SecurePackBytes = 16 * 1024;

    private readonly Socket _socket;
    private readonly Stream? _secure;
    private readonly Lock _lock = new();
    private readonly Queue<QueuedFrame> _queue = new();
    private readonly Stack<QueuedFrame> _pool = new();

    // Touched only by the current writer.
    private readonly List<ArraySegment<byte>> _segments = [];
    private readonly List<(int Before, ReadOnlyMemory<byte> Memory)> _direct = [];
    private readonly List<QueuedFrame> _batch = [];
    private readonly List<ArraySegment<byte>> _inPlaces = [];
    private readonly List<byte[]> _packs = [];
    private GatheredSend? _gathered;
    private bool _writing;
    private Exception? _failure;

    // The thread whose sends are held back (HoldSends), and whether any are: touched by that thread only.
    private int _holder;
    private bool _held;

    // Writes a deferred batch (SendAsync's othersInFlight): made at the first deferral, touched by the writer only.
    private Flusher? _flusher;

    /// <summary>Sends on <paramref name="socket"/>, or through <paramref name="secure"/> (TLS over it) when given.</summary>
    public FrameSender(Socket socket, Stream? secure = null)
    {
        _socket = socket;
        _secure = secure;
    }

    private ValueTask<int> SendAsync(ReadOnlyMemory<byte> bytes) =>
        _secure is null ? _socket.SendAsync(bytes, SocketFlags.None) : WriteSecureAsync(bytes);

    private ValueTask<int> SendAsync(List<ArraySegment<byte>> segments) =>
        _secure is null ? (_gathered ??= new GatheredSend()).SendAsync(_socket, segments) : WriteSecureAsync(segments);

    private async ValueTask<int> WriteSecureAsync(ReadOnlyMemory<byte> bytes)
    {
        await _secure!.WriteAsync(bytes).ConfigureAwait(false);
        return bytes.Length;
    }

    /// <summary>
    /// Writes a gathered batch to TLS: small pieces (headers, bodies, small bulks) are packed together first, so a
    /// batch of many small frames becomes a few full records and writes instead of one of each per piece.
    /// </summary>
    private async ValueTask<int> WriteSecureAsync(List<ArraySegment<byte>> segments)
    {
        var packed = System.Buffers.ArrayPool<byte>.Shared.Rent(SecurePackBytes);
        try
        {
            var used = 0;
            var total = 0;
            foreach (var segment in segments)
            {
                total += segment.Count;
                if (segment.Count <= SecurePackBytes - used)
                {
                    segment.AsSpan().CopyTo(packed.AsSpan(used));
                    used += segment.Count;
                    continue;
                }

                if (used > 0)
                {
                    await _secure!.WriteAsync(packed.AsMemory(0, used)).ConfigureAwait(false);
                    used = 0;
                }

                if (segment.Count <= SecurePackBytes)
                {
                    segment.AsSpan().CopyTo(packed);
                    used = segment.Count;
                }
                else
                {
                    await _secure!.WriteAsync(segment.AsMemory()).ConfigureAwait(false);
                }
            }

            if (used > 0)
            {
                await _secure!.WriteAsync(packed.AsMemory(0, used)).ConfigureAwait(false);
            }

            return total;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(packed);
        }
    }

    /// <summary>Stamps <paramref name="header"/> into <paramref name="frame"/> and sends it with <paramref name="bulk"/>; returns once all of it is sent.</summary>
    /// <remarks>
    /// <paramref name="othersInFlight"/>: the caller's connection has other calls waiting for their replies (a
    /// client's), whose callers resume on the thread pool a few at a time and send again. Then a frame sent from the
    /// pool while the pool has work queued waits behind that work, and the frames sent meanwhile leave with it in one
    /// send, written by a work item queued after them. A lone call, or one from the caller's own thread, goes at once.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask SendAsync(FrameBuffer frame, FrameHeader header, ReadOnlyMemory<byte> bulk, CancellationToken cancellationToken, bool othersInFlight = false)
    {
        // Once a frame is queued it must go out whole, or the stream is torn: only this point is cancellable.
        cancellationToken.ThrowIfCancellationRequested();
        frame.SetHeader(header);
        var bodyEnd = frame.Length;
        if (!bulk.IsEmpty && bulk.Length <= FrameBuffer.InlineBulkLimit)
        {
            frame.Append(bulk.Span);
            bulk = default;
        }

        var defer = othersInFlight && Thread.CurrentThread.IsThreadPoolThread && ThreadPool.PendingWorkItemCount > 0;
        try
        {
            QueuedFrame? waiting = null;
            lock (_lock)
            {
                if (_failure is { } failure)
                {
                    throw new IOException($"An earlier send on this connection failed: {failure.Message}", failure);
                }

                var holding = _holder == Environment.CurrentManagedThreadId;
                if (_writing || holding)
                {
                    waiting = Enqueue(frame.Written, bulk, inline: holding);
                    _held |= holding;
                    defer = false;
                }
                else if (defer)
                {
                    // The flusher is the writer: it sends this frame and those queued behind it once the pool gets to it.
                    waiting = Enqueue(frame.Written, bulk, inline: false);
                    _writing = true;
                }
                else
                {
                    _writing = true;
                }
            }

            if (defer)
            {
                ThreadPool.UnsafeQueueUserWorkItem(_flusher ??= new Flusher(this), preferLocal: false);
            }

            if (waiting is not null && !await waiting.Task.ConfigureAwait(false))
            {
                // The writer sent it.
                return;
            }

            // Our role now: send our frame (not yet sent) and whatever queued behind it.
            await WriteBatchAsync(frame.Written, bulk).ConfigureAwait(false);
        }
        finally
        {
            frame.TrimTo(bodyEnd);
        }
    }

    /// <summary>Queues a frame for the writer (under the lock).</summary>
    private QueuedFrame Enqueue(ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> bulk, bool inline)
    {
        var waiting = _pool.TryPop(out var pooled) ? pooled : new QueuedFrame(this);
        waiting.Arm(frame, bulk, inline);
        _queue.Enqueue(waiting);
        return waiting;
    }

    /// <summary>
    /// Until <see cref="EndHold"/>, frames this thread sends wait in the queue instead of going out, so the replies to
    /// a run of requests that arrived together leave in one gathered send (<see cref="SendHeld"/>) instead of one send
    /// each. The caller must not wait for such a send before it calls <see cref="SendHeld"/>; any other writer that
    /// comes meanwhile takes the held frames along. A held frame's caller goes on on the thread that sent it.
    /// </summary>
    public void HoldSends() => _holder = Environment.CurrentManagedThreadId;

    /// <summary>Ends <see cref="HoldSends"/>; frames held so far stay held until <see cref="SendHeld"/>.</summary>
    public void EndHold() => _holder = 0;

    /// <summary>Sends the frames held back by <see cref="HoldSends"/>, unless a writer is on them already; does not wait.</summary>
    public void SendHeld()
    {
        if (!_held)
        {
            return;
        }

        _held = false;
        lock (_lock)
        {
            if (_writing || _queue.Count == 0 || _failure is not null)
            {
                return;
            }

            _writing = true;
        }

        _ = SendQueuedAsync();
    }

    /// <summary>The writer of a deferred batch, queued to the pool behind the work that was waiting (made once per sender).</summary>
    private sealed class Flusher(FrameSender owner) : IThreadPoolWorkItem
    {
        public void Execute() => _ = owner.SendQueuedAsync();
    }

    private async Task SendQueuedAsync()
    {
        try
        {
            await WriteBatchAsync(default, default).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException)
        {
            // Every frame of the batch was failed with it; the connection's reader sees the socket close.
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask WriteBatchAsync(ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> bulk)
    {
        _segments.Clear();
        _direct.Clear();
        _batch.Clear();
        long bytes = Add(frame) + Add(bulk);
        lock (_lock)
        {
            while (bytes < MaxBatchBytes && _queue.TryDequeue(out var next))
            {
                _batch.Add(next);
                bytes += Add(next.Frame) + Add(next.Bulk);
            }
        }

        Exception? failure = null;
        try
        {
            if (_direct.Count == 0)
            {
                if (_secure is null && _segments.Count > GatheredWithoutAllocation)
                {
                    PackSmallSegments();
                }

                await SendAllAsync(bytes).ConfigureAwait(false);
            }
            else
            {
                await SendInPlacesAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        foreach (var pack in _packs)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(pack);
        }

        _packs.Clear();

        // Complete the batch while still the writer: the lists are the writer's, and the next writer clears them.
        _segments.Clear();
        _direct.Clear();
        foreach (var sent in _batch)
        {
            sent.Complete(failure);
        }

        _batch.Clear();
        QueuedFrame? successor = null;
        QueuedFrame[] orphans = [];
        lock (_lock)
        {
            if (failure is not null)
            {
                _failure ??= failure;
                orphans = [.. _queue];
                _queue.Clear();
                _writing = false;
            }
            else if (!_queue.TryDequeue(out successor))
            {
                _writing = false;
            }
        }

        foreach (var orphan in orphans)
        {
            orphan.Complete(failure);
        }

        // Hand the writer's role to the oldest queued frame: its caller resumes on the thread pool and sends it.
        successor?.BecomeWriter();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>
    /// Copies the batch's small segments (frames and their inline bulks) side by side into pooled buffers, so a batch of
    /// many small frames is a gathered send of a few segments: .NET's gathered send allocates its vectors past
    /// <see cref="GatheredWithoutAllocation"/> segments. Large segments stay where they are, in their place in the order.
    /// </summary>
    private void PackSmallSegments()
    {
        var packed = _inPlaces;
        packed.Clear();
        byte[]? pack = null;
        int start = 0, used = 0;
        foreach (var segment in _segments)
        {
            if (segment.Count > PackBytes / 4)
            {
                Close();
                packed.Add(segment);
                continue;
            }

            if (pack is null || pack.Length - used < segment.Count)
            {
                Close();
                pack = System.Buffers.ArrayPool<byte>.Shared.Rent(PackBytes);
                _packs.Add(pack);
                start = used = 0;
            }

            segment.AsSpan().CopyTo(pack.AsSpan(used));
            used += segment.Count;
        }

        Close();
        _segments.Clear();
        _segments.AddRange(packed);
        packed.Clear();

        void Close()
        {
            if (pack is not null && used > start)
            {
                packed.Add(new ArraySegment<byte>(pack, start, used - start));
                start = used;
            }
        }
    }

    private int Add(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return 0;
        }

        if (!MemoryMarshal.TryGetArray(bytes, out var segment))
        {
            // Not an array: sent on its own after the segments gathered so far (see SendInPlacesAsync).
            _direct.Add((_segments.Count, bytes));
            return bytes.Length;
        }

        _segments.Add(segment);
        return segment.Count;
    }

    /// <summary>Sends the batch in order: each run of array segments gathered, each non-array bulk in its own send.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask SendInPlacesAsync()
    {
        var segments = _inPlaces;
        segments.Clear();
        segments.AddRange(_segments);
        var from = 0;
        foreach (var (before, memory) in _direct)
        {
            await SendGatheredAsync(segments, from, before).ConfigureAwait(false);
            from = before;
            if (_secure is null && OperatingSystem.IsLinux() && MemoryMarshal.TryGetMemoryManager(memory, out FileBulk? file, out var start, out var length))
            {
                await SendFileAsync(file, start, length).ConfigureAwait(false);
                continue;
            }

            for (var sent = 0; sent < memory.Length;)
            {
                sent += await SendAsync(memory[sent..]).ConfigureAwait(false);
            }
        }

        await SendGatheredAsync(segments, from, segments.Count).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a file's range with sendfile. When the socket is full, the next piece goes by copy through an ordinary
    /// async send, which waits for room without holding a thread; then sendfile again.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask SendFileAsync(FileBulk file, int start, int length)
    {
        for (var sent = 0; sent < length;)
        {
            var count = file.SendTo(_socket, start + sent, length - sent);
            if (count < 0)
            {
                throw new IOException($"the file under a bulk of {length} bytes was cut while it was sent");
            }

            if (count > 0)
            {
                sent += count;
                continue;
            }

            var piece = Math.Min(length - sent, PackBytes);
            var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(piece);
            try
            {
                file.Read(start + sent, buffer.AsSpan(0, piece));
                sent += await SendAsync(buffer.AsMemory(0, piece)).ConfigureAwait(false);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask SendGatheredAsync(List<ArraySegment<byte>> segments, int from, int to)
    {
        _segments.Clear();
        long bytes = 0;
        for (var i = from; i < to; i++)
        {
            _segments.Add(segments[i]);
            bytes += segments[i].Count;
        }

        await SendAllAsync(bytes).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask SendAllAsync(long bytes)
    {
        while (bytes > 0)
        {
            var sent = _segments.Count == 1
                ? await SendAsync(_segments[0].AsMemory()).ConfigureAwait(false)
                : await SendAsync(_segments).ConfigureAwait(false);
            bytes -= sent;
            if (bytes > 0)
            {
                DropSent(sent);
            }
        }
    }

    /// <summary>After a partial send, drops the <paramref name="sent"/> bytes from the front of the segments.</summary>
    private void DropSent(int sent)
    {
        while (sent > 0)
        {
            var first = _segments[0];
            if (sent >= first.Count)
            {
                sent -= first.Count;
                _segments.RemoveAt(0);
            }
            else
            {
                _segments[0] = first[sent..];
                sent = 0;
            }
        }
    }

    private void Return(QueuedFrame frame)
    {
        lock (_lock)
        {
            _pool.Push(frame);
        }
    }

    public void Dispose()
    {
        QueuedFrame[] orphans;
        lock (_lock)
        {
            _failure ??= new ObjectDisposedException(nameof(FrameSender));
            orphans = [.. _queue];
            _queue.Clear();
        }

        foreach (var orphan in orphans)
        {
            orphan.Complete(_failure);
        }

        _gathered?.Dispose();
    }

    /// <summary>
    /// A frame waiting for the writer. Completes with false once sent, with true when its caller becomes the writer
    /// (frame not sent yet), or with the send's exception. Pooled per sender, so a queued send allocates nothing.
    /// </summary>
    private sealed class QueuedFrame(FrameSender owner) : IValueTaskSource<bool>
    {
        private readonly DeferredCompletion<bool> _core = new();

        public ReadOnlyMemory<byte> Frame { get; private set; }

        public ReadOnlyMemory<byte> Bulk { get; private set; }

        public ValueTask<bool> Task => new(this, _core.Version);

        // Held back by HoldSends: its caller goes on on the sending thread (the rest of an inline reply).
        private bool _inline;

        public void Arm(ReadOnlyMemory<byte> frame, ReadOnlyMemory<byte> bulk, bool inline)
        {
            Frame = frame;
            Bulk = bulk;
            _inline = inline;
        }

        public void Complete(Exception? failure)
        {
            if (failure is null)
            {
                _core.SetResult(false, _inline);
            }
            else
            {
                _core.SetException(new IOException($"Send failed: {failure.Message}", failure), _inline);
            }
        }

        public void BecomeWriter() => _core.SetResult(true);

        public bool GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                Frame = default;
                Bulk = default;
                owner.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
