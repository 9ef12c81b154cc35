using Lustre.Protocol;

namespace Lustre.IO;

/// <summary>
/// Lustre's stride readahead, for one <see cref="LustreStream"/>: reads of one length at a fixed step larger than it
/// (IOR-hard's records, one rank's column of a row-major array) are noticed at the third, and the records after it are
/// then read ahead in windows of up to <see cref="MaxRecords"/>, each window one batched read (<see cref="BatchedIo"/>:
/// an OST's records travel together in one request), the next window started when the reader is half way through the
/// current one. A read that breaks the pattern drops the windows. Like the stream's sequential readahead, a record
/// answered from a window holds the bytes as they were when the window was read. Not thread-safe (the stream is not).
/// </summary>
internal sealed class StrideReadahead(LustreFile file)
{
    /// <summary>The fewest records a window reads.</summary>
    public const int MinRecords = 4;

    /// <summary>The most records a window reads.</summary>
    public const int MaxRecords = 64;

    /// <summary>The most bytes a window reads.</summary>
    public const int MaxWindowBytes = 64 << 20;

    private long _last = -1;
    private long _step;
    private int _length;
    private int _run;
    private Window? _current;
    private Window? _next;

    /// <summary>Records read from windows.</summary>
    public long Hits { get; private set; }

    /// <summary>Windows started.</summary>
    public long Windows { get; private set; }

    /// <summary>
    /// Notes a read of <paramref name="destination"/>.Length bytes at <paramref name="offset"/> that does not continue
    /// the stream's last read, and answers it from a window when the stride's windows hold it: returns the bytes read,
    /// or -1 when the caller must read it itself (the pattern is not seen yet, or a window is only starting with the
    /// records after this one). <paramref name="budget"/> is the stream's readahead budget now: a window takes at most
    /// half of it, and a budget under <see cref="MinRecords"/> records (0 among them) reads nothing ahead.
    /// </summary>
    public async ValueTask<int> TryReadAsync(long offset, Memory<byte> destination, long budget, CancellationToken cancellationToken)
    {
        var count = destination.Length;
        var step = offset - _last;
        if (_last >= 0 && step > count && step == _step && count == _length)
        {
            _run++;
        }
        else
        {
            _step = step;
            _length = count;
            _run = 0;
            Drop();
        }

        _last = offset;
        if (_run < 1 || count == 0 || Records(budget) < MinRecords)
        {
            return -1;
        }

        if (_current?.IndexOf(offset) is null)
        {
            if (_next?.IndexOf(offset) is null)
            {
                // The third read of the pattern, or a window that fell behind: the next records from here.
                Drop();
                _current = Start(offset + _step, budget);
                return -1;
            }

            Release(_current);
            _current = _next;
            _next = null;
        }

        var window = _current!;
        var index = window.IndexOf(offset)!.Value;
        if (_next is null && index >= window.Records / 2)
        {
            _next = Start(window.First + (window.Records * _step), budget);
        }

        int[] counts;
        try
        {
            counts = await window.Fill.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The read of its own (retried, failed over) says what is wrong, if anything still is.
            Drop();
            return -1;
        }

        // A record the window read short (the file was shorter then) is read again, never answered as an end of file.
        if (counts[index] < count)
        {
            return -1;
        }

        window.Buffer.AsSpan(index * _length, count).CopyTo(destination.Span);
        Hits++;
        return count;
    }

    /// <summary>Forgets the pattern and lets go of the windows (a write, a truncate, a sequential read, the stream's end).</summary>
    public void Reset()
    {
        _last = -1;
        _run = 0;
        Drop();
    }

    private void Drop()
    {
        Release(_current);
        Release(_next);
        _current = null;
        _next = null;
    }

    /// <summary>Records of a window: as many as half the budget holds, within <see cref="MaxRecords"/> and <see cref="MaxWindowBytes"/>; under <see cref="MinRecords"/>, none is read ahead.</summary>
    private int Records(long budget) => (int)Math.Min(Math.Min(MaxRecords, MaxWindowBytes / _length), Math.Max(0, budget) / 2 / _length);

    /// <summary>Reads the records from <paramref name="first"/> on, as many as <see cref="Records"/> allows.</summary>
    private Window Start(long first, long budget)
    {
        var records = Records(budget);
        // From the bulk pool, as the stream's sequential readahead: it keeps enough buffers for many windows in flight.
        var buffer = BulkPool.Shared.Rent(records * _length);
        var requests = new LustreReadRequest[records];
        for (var i = 0; i < records; i++)
        {
            requests[i] = new LustreReadRequest(file, first + (i * _step), buffer.AsMemory(i * _length, _length));
        }

        Windows++;
        return new Window(first, _step, records, buffer, FillAsync(requests));
    }

    private static async Task<int[]> FillAsync(LustreReadRequest[] requests)
    {
        var counts = new int[requests.Length];
        await BatchedIo.ReadAsync(requests, counts, limiter: null, CancellationToken.None).ConfigureAwait(false);
        return counts;
    }

    /// <summary>Returns a window's buffer once nothing can still be receiving into it.</summary>
    private static void Release(Window? window)
    {
        if (window is not null)
        {
            BulkPool.ReturnWhenDone(window.Fill, window.Buffer);
        }
    }

    /// <summary><see cref="Records"/> records at <see cref="First"/>, <see cref="First"/> + step, ..., back to back in <see cref="Buffer"/>.</summary>
    private sealed record Window(long First, long Step, int Records, byte[] Buffer, Task<int[]> Fill)
    {
        /// <summary>The record starting at <paramref name="offset"/>, or null when the window does not hold one there.</summary>
        public int? IndexOf(long offset)
        {
            var delta = offset - First;
            return delta >= 0 && delta % Step == 0 && delta / Step < Records ? (int)(delta / Step) : null;
        }
    }
}
