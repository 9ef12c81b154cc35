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
/// Each entry answers one stat. Thread-safe.
/// </summary>
internal sealed class StatAhead(int max)
{
    /// <summary>The first window of a stream.</summary>
    public const int InitialWindow = 32;

    /// <summary>Streams (directory and name prefix) followed at once; past it they start over.</summary>
    public const int MaxStreams = 64;

    /// <summary>Digits of the longest trailing number followed.</summary>
    private const int MaxDigits = 9;

    /// <summary>The longest lease taken from an MDS (the MDS's own limit).</summary>
    public static readonly TimeSpan MaxLease = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Stream> _streams = new(StringComparer.Ordinal);
    private int _max = max;
    private long _hits;
    private long _misses;
    private long _batches;
    private long _refused;

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

    /// <summary>Entries held now, used or expired ones included until they are cleared.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Takes the answer to a stat of <paramref name="path"/> (canonical) when a lease still covers it.</summary>
    public bool TryTake(string path, out InodeAttributes attributes)
    {
        lock (_lock)
        {
            if (_entries.Remove(path, out var entry) && Stopwatch.GetTimestamp() < entry.Expires)
            {
                _hits++;
                attributes = entry.Attributes;
                return true;
            }

            _misses++;
        }

        attributes = null!;
        return false;
    }

    /// <summary>
    /// Notes a stat of <paramref name="path"/> (canonical) that <see cref="TryTake"/> missed; returns the paths to ask for
    /// in one batch with a lease, <paramref name="path"/> first, or null to stat it alone. A plan is handed back to
    /// <see cref="Complete"/> or <see cref="Abandon"/>.
    /// </summary>
    public Plan? PlanFor(string path)
    {
        var max = Max;
        var slash = path.LastIndexOf('/');
        var digits = 0;
        while (digits < path.Length - slash - 1 && char.IsAsciiDigit(path[path.Length - 1 - digits]))
        {
            digits++;
        }

        if (max <= 0 || digits is 0 or > MaxDigits)
        {
            return null;
        }

        var start = path.Length - digits;
        var number = long.Parse(path.AsSpan(start), NumberStyles.None, CultureInfo.InvariantCulture);
        var key = path[..start];
        Stream stream;
        int window;
        lock (_lock)
        {
            if (!_streams.TryGetValue(key, out stream!))
            {
                if (_streams.Count >= MaxStreams)
                {
                    _streams.Clear();
                }

                _streams[key] = new Stream { Last = number };
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

        // A zero-padded number keeps its width (file.0099 is followed by file.0100).
        var width = digits > 1 && path[start] == '0' ? digits : 0;
        var perPath = 2 + Encoding.UTF8.GetByteCount(path) + 2;
        window = (int)Math.Clamp(Math.Min(window, (ProtocolLimits.MaxMetadataPageBytes - 64) / perPath), 1, Math.Min(ProtocolLimits.MaxBatchPaths, (long)Math.Pow(10, MaxDigits) - number));
        var paths = new string[window];
        paths[0] = path;
        for (var i = 1; i < window; i++)
        {
            paths[i] = Name(key, number + i, width);
        }

        return new Plan(stream, paths, number);
    }

    /// <summary><paramref name="key"/> followed by <paramref name="number"/>, zero-padded to <paramref name="width"/> digits (0: none).</summary>
    private static string Name(string key, long number, int width)
    {
        var digits = Math.Max(width, number == 0 ? 1 : (int)Math.Floor(Math.Log10(number)) + 1);
        return string.Create(key.Length + digits, (key, number, digits), static (span, state) =>
        {
            state.key.CopyTo(span);
            var value = state.number;
            for (var i = span.Length - 1; i >= state.key.Length; i--)
            {
                span[i] = (char)('0' + (value % 10));
                value /= 10;
            }
        });
    }

    /// <summary>
    /// Keeps the answers of a planned batch sent at <paramref name="sent"/> (a <see cref="Stopwatch"/> timestamp taken
    /// before the request left) until its lease ends: all but the first, which its caller is answered with, and none of a
    /// file open for write (its size is the OSTs', not the MDS's).
    /// </summary>
    public void Complete(Plan plan, IReadOnlyList<GetAttrResult> results, TimeSpan lease, long sent)
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
                stream.Refusals = Math.Min(stream.Refusals + 1, 6);
                stream.Skip = 1 << stream.Refusals;
                stream.Window = InitialWindow;
                return;
            }

            _batches++;
            stream.Refusals = 0;
            stream.Last = Math.Max(stream.Last, plan.Number + results.Count - 1);

            // Ends a sixteenth early: clocks of two hosts may run at slightly different rates.
            var expires = sent + (long)((lease - (lease / 16)).TotalSeconds * Stopwatch.Frequency);
            if (_entries.Count + results.Count > 4 * ProtocolLimits.MaxBatchPaths)
            {
                _entries.Clear();
            }

            for (var i = 1; i < results.Count; i++)
            {
                if (results[i] is { Status: 0, Attributes: { } attributes } && (attributes.Flags & InodeFlags.OpenForWrite) == 0)
                {
                    _entries[plan.Paths[i]] = new Entry(attributes, expires);
                }
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

    /// <summary>A batch to ask for: <see cref="Paths"/>[0] is the stat that planned it, whose trailing number is <see cref="Number"/>.</summary>
    internal sealed record Plan(Stream Stream, string[] Paths, long Number);

    /// <summary>Stats of one directory's names with one prefix, and their trailing numbers.</summary>
    internal sealed class Stream
    {
        public long Last;
        public int Run;
        public int Window = InitialWindow;
        public bool Busy;
        public int Skip;
        public int Refusals;
    }

    private readonly record struct Entry(InodeAttributes Attributes, long Expires);
}
