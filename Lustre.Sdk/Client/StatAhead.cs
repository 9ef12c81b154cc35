using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>
/// Statahead for stats of names that count up (Lustre 2.16's statahead of "regularised" file names: mdtest's
/// <c>file.0</c>, <c>file.1</c>, ...; a dataset's <c>img_00041.jpg</c> does not end in its number and is not one).
/// When a client stats three names of one directory whose trailing numbers follow each other, the third stat asks the
/// MDS for that name and the next ones in one batched getattr with a lease (<see cref="GetAttrBatchRequest.Lease"/>);
/// the following stats of those names are answered here until the lease ends, and the window doubles from
/// <see cref="InitialWindow"/> to <see cref="LustreClientOptions.StatAheadMax"/> while the stats keep following it.
/// The MDS applies no change while a lease runs, so an answer from here is what the MDS would have answered; a lease
/// is counted from before the request left, so it ends here first. An MDS that grants none (a change within its quiet
/// time) answers only the name asked, and this stream then waits twice as many stats before asking again (at most 64).
/// Each answer serves one stat; a stream keeps only its last batch's. When a batch's answers are all used, or replaced
/// by the next batch's, its lease is handed back to be released (<see cref="FilesystemSession.ReleaseStatAheadLease"/>),
/// so changes on the MDT wait for no lease nobody needs. A client keeps a second instance for opens for reading
/// (<see cref="FilesystemSession.OpenAhead"/>): its batches open the names and bring the bytes of those whose bytes all
/// live on the MDT (read-on-open), so such files are opened and read with no round trip each. Thread-safe.
/// </summary>
internal sealed class StatAhead
{
    /// <summary>The first window of a stream.</summary>
    public const int InitialWindow = 32;

    /// <summary>Streams (directory and name prefix) followed at once; past it they start over.</summary>
    public const int MaxStreams = 64;

    /// <summary>Digits of the longest trailing number followed.</summary>
    private const int MaxDigits = 9;

    /// <summary>The first number with more than <see cref="MaxDigits"/> digits.</summary>
    private const long PastMaxNumber = 1_000_000_000;

    /// <summary>The longest lease taken from an MDS (the MDS's own limit).</summary>
    public static readonly TimeSpan MaxLease = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, NameStream> _streams = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NameStream>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private int _max;
    private long _hits;
    private long _misses;
    private long _batches;
    private long _refused;

    /// <param name="max">The largest window; 0 turns statahead off.</param>
    public StatAhead(int max)
    {
        _max = max;
        _lookup = _streams.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The largest window (<c>llite.*.statahead_max</c>); 0 turns statahead off.</summary>
    public int Max
    {
        get => Volatile.Read(ref _max);
        set => Volatile.Write(ref _max, value);
    }

    /// <summary>Stats answered from a lease.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Stats that asked the MDS.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Batches granted a lease.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Batches the MDS granted no lease.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Answers held now and not yet used, expired ones included.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _streams.Values.Sum(s => s.Answers?.Count(a => a is not null) ?? 0);
            }
        }
    }

    /// <summary>
    /// Takes the answer to a stat (or open) of <paramref name="path"/> (canonical) when a lease still covers it, with the
    /// file's bytes when the batch brought them (an array of <see cref="System.Buffers.ArrayPool{T}.Shared"/>, now the
    /// caller's; else null); <paramref name="release"/> is the lease to release when that was its last answer (else 0).
    /// </summary>
    public bool TryTake(string path, out InodeAttributes attributes, out byte[]? data, out ulong release)
    {
        var (start, digits) = TrailingNumber(path);
        lock (_lock)
        {
            if (digits > 0 && _lookup.TryGetValue(path.AsSpan(0, start), out var stream)
                && stream.TryTake(long.Parse(path.AsSpan(start), NumberStyles.None, CultureInfo.InvariantCulture), digits, out attributes, out data, out release))
            {
                _hits++;
                return true;
            }

            _misses++;
        }

        attributes = null!;
        data = null;
        release = 0;
        return false;
    }

    /// <summary>
    /// Notes a stat of <paramref name="path"/> (canonical) that <see cref="TryTake"/> missed; returns the batch to ask
    /// for, <paramref name="path"/> first, or null to stat it alone. A plan is handed back to <see cref="Complete"/> or
    /// <see cref="Abandon"/>.
    /// </summary>
    public Plan? PlanFor(string path)
    {
        var max = Max;
        var (start, digits) = TrailingNumber(path);
        if (max <= 0 || digits == 0)
        {
            return null;
        }

        var number = long.Parse(path.AsSpan(start), NumberStyles.None, CultureInfo.InvariantCulture);
        NameStream? stream;
        int window;
        lock (_lock)
        {
            if (!_lookup.TryGetValue(path.AsSpan(0, start), out stream))
            {
                if (_streams.Count >= MaxStreams)
                {
                    foreach (var dropped in _streams.Values)
                    {
                        dropped.Forget();
                    }

                    _streams.Clear();
                }

                var key = path[..start];
                _streams[key] = new NameStream(key) { Last = number };
                return null;
            }

            var follows = number == stream.Last + 1;
            stream.Last = number;
            if (!follows)
            {
                stream.Run = 0;
                stream.Window = InitialWindow;
                return null;
            }

            if (++stream.Run < 2 || stream.Busy)
            {
                return null;
            }

            if (stream.Skip > 0)
            {
                stream.Skip--;
                return null;
            }

            stream.Busy = true;
            window = Math.Min(stream.Window, max);
            stream.Window = Math.Min(stream.Window * 2, max);
        }

        // A zero-padded number keeps its width (file.0099 is followed by file.0100); a request stays within a page.
        var width = digits > 1 && path[start] == '0' ? digits : 0;
        var perPath = 2 + Encoding.UTF8.GetByteCount(path) + 2;
        window = (int)Math.Clamp(Math.Min(window, (ProtocolLimits.MaxMetadataPageBytes - 64) / perPath), 1, Math.Min(ProtocolLimits.MaxBatchPaths, PastMaxNumber - number));
        return new Plan(stream, number, window, width);
    }

    /// <summary>
    /// Keeps the answers of a planned batch sent at <paramref name="sent"/> (a <see cref="Stopwatch"/> timestamp taken
    /// before the request left) until its lease <paramref name="id"/> ends: <paramref name="answers"/>[i] answers the
    /// plan's i-th name (null: it failed), all but the first, which its caller is answered with; <paramref name="data"/>
    /// (null, or one per answer) the files' bytes the batch brought. None of a file open for write is kept: its size is
    /// the OSTs', not the MDS's. Returns a lease to release (else 0): the one of the batch these answers replace, when
    /// some of its answers were left, or this one, when it has none to keep (the last batch's answers then stay).
    /// </summary>
    public ulong Complete(Plan plan, InodeAttributes?[] answers, byte[]?[]? data, TimeSpan lease, ulong id, long sent)
    {
        // Never trust a length from the wire: a lease is at most what an MDS grants.
        lease = lease > MaxLease ? MaxLease : lease;
        lock (_lock)
        {
            var stream = plan.Stream;
            stream.Busy = false;
            if (lease <= TimeSpan.Zero)
            {
                _refused++;
                Recycle(data);
                stream.Refusals = Math.Min(stream.Refusals + 1, 6);
                stream.Skip = 1 << stream.Refusals;
                stream.Window = InitialWindow;
                return 0;
            }

            _batches++;
            stream.Refusals = 0;
            stream.Last = Math.Max(stream.Last, plan.Number + answers.Length - 1);
            answers[0] = null;
            for (var i = 1; i < answers.Length; i++)
            {
                if (answers[i] is { } attributes && (attributes.Flags & InodeFlags.OpenForWrite) != 0)
                {
                    answers[i] = null;
                    if (data?[i] is { } bytes)
                    {
                        ArrayPool<byte>.Shared.Return(bytes);
                        data[i] = null;
                    }
                }
            }

            // Ends a sixteenth early: clocks of two hosts may run at slightly different rates.
            return stream.Keep(answers, data, plan.Number, plan.Width, id, sent + (long)((lease - (lease / 16)).TotalSeconds * Stopwatch.Frequency));
        }
    }

    /// <summary>Gives the files' bytes of answers nobody will take back to <see cref="ArrayPool{T}.Shared"/>, which they came from.</summary>
    private static void Recycle(byte[]?[]? data)
    {
        if (data is null)
        {
            return;
        }

        for (var i = 0; i < data.Length; i++)
        {
            if (data[i] is { } bytes)
            {
                ArrayPool<byte>.Shared.Return(bytes);
                data[i] = null;
            }
        }
    }

    /// <summary>A planned batch that got no answer: its stream may plan again.</summary>
    public void Abandon(Plan plan)
    {
        lock (_lock)
        {
            plan.Stream.Busy = false;
        }
    }

    /// <summary>Where the trailing number of the last name of <paramref name="path"/> starts, and its digits (0: none, or too many).</summary>
    private static (int Start, int Digits) TrailingNumber(string path)
    {
        var nameLength = path.Length - path.LastIndexOf('/') - 1;
        var digits = 0;
        while (digits < nameLength && char.IsAsciiDigit(path[path.Length - 1 - digits]))
        {
            digits++;
        }

        return digits > MaxDigits ? (path.Length, 0) : (path.Length - digits, digits);
    }

    /// <summary>A batch to ask for: <see cref="Count"/> names of <see cref="Stream"/>'s prefix from <see cref="Number"/>, padded to <see cref="Width"/> digits (0: not).</summary>
    internal sealed record Plan(NameStream Stream, long Number, int Count, int Width)
    {
        public string Prefix => Stream.Prefix;
    }

    /// <summary>Stats of one directory's names with one prefix, their trailing numbers, and the answers of its last batch.</summary>
    internal sealed class NameStream(string prefix)
    {
        private long _base;
        private int _width;
        private long _expires;
        private ulong _lease;
        private int _left;

        /// <summary>The files' bytes of <see cref="Answers"/>, when the batch brought them.</summary>
        private byte[]?[]? _data;

        public string Prefix { get; } = prefix;

        public long Last { get; set; }

        public int Run { get; set; }

        public int Window { get; set; } = InitialWindow;

        public bool Busy { get; set; }

        public int Skip { get; set; }

        public int Refusals { get; set; }

        public InodeAttributes?[]? Answers { get; private set; }

        /// <summary>Keeps a batch's answers in place of the last one's; returns the lease to release (see <see cref="Complete"/>).</summary>
        public ulong Keep(InodeAttributes?[] answers, byte[]?[]? data, long first, int width, ulong lease, long expires)
        {
            var left = answers.Count(a => a is not null);
            if (left == 0)
            {
                // Nothing to keep: the last batch's answers stay.
                Recycle(data);
                return lease;
            }

            var replaced = _left > 0 ? _lease : 0;
            Recycle(_data);
            _left = left;
            Answers = answers;
            _data = data;
            _base = first;
            _width = width;
            _lease = lease;
            _expires = expires;
            return replaced;
        }

        /// <summary>Lets go of the answers held, giving their files' bytes back to the pool (their lease is not released: it has ended, or ends on its own).</summary>
        public void Forget()
        {
            Recycle(_data);
            Answers = null;
            _data = null;
            _left = 0;
            _lease = 0;
        }

        /// <summary>
        /// Takes the answer for <paramref name="number"/> written with <paramref name="digits"/> digits, as the batch wrote
        /// it; <paramref name="release"/> is the batch's lease when that was its last answer.
        /// </summary>
        public bool TryTake(long number, int digits, out InodeAttributes attributes, out byte[]? data, out ulong release)
        {
            var index = number - _base;
            release = 0;
            if (Answers is { } answers && index > 0 && index < answers.Length && digits == Math.Max(_width, GetAttrBatchRequest.Digits(number))
                && answers[index] is { } answer && Stopwatch.GetTimestamp() < _expires)
            {
                answers[index] = null;
                attributes = answer;
                data = _data?[index];
                if (_data is not null)
                {
                    _data[index] = null;
                }

                if (--_left == 0)
                {
                    Answers = null;
                    _data = null;
                    release = _lease;
                    _lease = 0;
                }

                return true;
            }

            // Answers past their lease are never used: their memory (a batch of opens holds files' bytes) goes now.
            if (Answers is not null && Stopwatch.GetTimestamp() >= _expires)
            {
                Forget();
            }

            attributes = null!;
            data = null;
            return false;
        }
    }
}
