using System.Globalization;
using System.Text;

namespace Lustre.Server.Stats;

/// <summary>
/// A set of counters, Lustre's <c>struct lprocfs_stats</c>: per counter the samples, min, max, sum and sum of squares, and
/// for byte counters a log2 histogram, updated without a lock (each request adds one sample). Printed as lctl prints
/// <c>obdfilter.*.stats</c> and <c>mdt.*.md_stats</c> (<see cref="WriteStats"/>) or one job of <c>*.job_stats</c>
/// (<see cref="WriteJob"/>); writing anything to the parameter clears it, as in Lustre.
/// </summary>
internal sealed class CounterSet
{
    /// <summary>Lustre's OBD_HIST_MAX.</summary>
    public const int HistogramBuckets = 32;

    private const int Fields = 5;
    private const int Count = 0;
    private const int Min = 1;
    private const int Max = 2;
    private const int Sum = 3;
    private const int SumSquares = 4;

    private readonly IReadOnlyList<CounterDefinition> _definitions;
    private readonly long[] _values;
    private readonly long[]?[] _histograms;
    private long _started;

    /// <param name="definitions">The counters, in the order they print.</param>
    /// <param name="started">When counting starts (<c>start_time</c>), in UTC ticks; null for now.</param>
    public CounterSet(IReadOnlyList<CounterDefinition> definitions, long? started = null)
    {
        _definitions = definitions;
        _values = new long[definitions.Count * Fields];
        _histograms = new long[]?[definitions.Count];
        for (var i = 0; i < definitions.Count; i++)
        {
            _histograms[i] = definitions[i].Histogram ? new long[HistogramBuckets] : null;
        }

        Clear();
        if (started is { } ticks)
        {
            _started = ticks;
        }
    }

    public IReadOnlyList<CounterDefinition> Definitions => _definitions;

    /// <summary>When the counters started (made or cleared): <c>start_time</c>.</summary>
    public DateTimeOffset Started => new(Interlocked.Read(ref _started), TimeSpan.Zero);

    /// <summary>Adds one sample of <paramref name="value"/> to counter <paramref name="index"/>.</summary>
    public void Add(int index, long value)
    {
        var at = index * Fields;
        Interlocked.Increment(ref _values[at + Count]);
        Interlocked.Add(ref _values[at + Sum], value);
        Interlocked.Add(ref _values[at + SumSquares], unchecked(value * value));
        for (var min = Volatile.Read(ref _values[at + Min]); value < min; min = Volatile.Read(ref _values[at + Min]))
        {
            if (Interlocked.CompareExchange(ref _values[at + Min], value, min) == min)
            {
                break;
            }
        }

        for (var max = Volatile.Read(ref _values[at + Max]); value > max; max = Volatile.Read(ref _values[at + Max]))
        {
            if (Interlocked.CompareExchange(ref _values[at + Max], value, max) == max)
            {
                break;
            }
        }

        if (_histograms[index] is { } histogram)
        {
            Interlocked.Increment(ref histogram[Log2Bucket(value)]);
        }
    }

    /// <summary>The samples of counter <paramref name="index"/>.</summary>
    public long Samples(int index) => Volatile.Read(ref _values[index * Fields]);

    /// <summary>The sum of counter <paramref name="index"/>.</summary>
    public long Total(int index) => Volatile.Read(ref _values[(index * Fields) + Sum]);

    /// <summary>Zeroes every counter and restarts <see cref="Started"/>.</summary>
    public void Clear()
    {
        for (var i = 0; i < _definitions.Count; i++)
        {
            var at = i * Fields;
            Volatile.Write(ref _values[at + Count], 0);
            Volatile.Write(ref _values[at + Min], long.MaxValue);
            Volatile.Write(ref _values[at + Max], 0);
            Volatile.Write(ref _values[at + Sum], 0);
            Volatile.Write(ref _values[at + SumSquares], 0);
            if (_histograms[i] is { } histogram)
            {
                Array.Clear(histogram);
            }
        }

        Interlocked.Exchange(ref _started, DateTimeOffset.UtcNow.UtcTicks);
    }

    /// <summary>
    /// lprocfs_stats_seq_show: the header, then one line per counter with samples (counters never used are left out):
    /// <c>write_bytes                   3 samples [bytes] 4096 1048576 1052672 1099528404992</c>.
    /// </summary>
    public string WriteStats(DateTimeOffset now)
    {
        var text = new StringBuilder();
        WriteHeader(text, now, Started, 35, colon: false, prefix: string.Empty);
        for (var i = 0; i < _definitions.Count; i++)
        {
            var (count, min, max, sum, squares) = Read(i);
            if (count == 0)
            {
                continue;
            }

            text.Append(CultureInfo.InvariantCulture, $"{_definitions[i].Name,-35} {count} samples [{_definitions[i].Unit}] {min} {max} {sum} {(ulong)squares}\n");
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary>
    /// lprocfs_jobstats_seq_show for one job: every counter, used or not, as a YAML flow mapping
    /// (<c>  write_bytes:     { samples:           1, unit: bytes, min:     4096, ... hist: { 4K: 1 } }</c>).
    /// </summary>
    public void WriteJob(StringBuilder text, string jobId, DateTimeOffset latest)
    {
        text.Append(CultureInfo.InvariantCulture, $"- {"job_id:",-16} {EscapeJobId(jobId)}\n");
        WriteHeader(text, latest, Started, 16, colon: true, prefix: "  ");
        for (var i = 0; i < _definitions.Count; i++)
        {
            var definition = _definitions[i];
            var (count, min, max, sum, squares) = Read(i);
            var pad = new string(' ', 15 - Math.Min(definition.Name.Length, 15));
            text.Append(CultureInfo.InvariantCulture, $"  {definition.Name}:{pad} {{ samples: {count,11}, unit: {definition.Unit,5}");
            text.Append(CultureInfo.InvariantCulture, $", min: {(count > 0 ? min : 0),8}, max: {(count > 0 ? max : 0),8}, sum: {(count > 0 ? sum : 0),16}");
            text.Append(CultureInfo.InvariantCulture, $", sumsq: {(count > 0 ? (ulong)squares : 0),18}");
            if (_histograms[i] is { } histogram)
            {
                text.Append(", hist: { ");
                var first = true;
                for (var bucket = 0; bucket < HistogramBuckets; bucket++)
                {
                    var value = Volatile.Read(ref histogram[bucket]);
                    if (value == 0)
                    {
                        continue;
                    }

                    text.Append(first ? string.Empty : ", ").Append(BucketName(bucket)).Append(CultureInfo.InvariantCulture, $": {value}");
                    first = false;
                }

                text.Append(" }");
            }

            text.Append(" }\n");
        }
    }

    /// <summary>
    /// lprocfs_stats_header: <c>snapshot_time</c>, <c>start_time</c>, <c>elapsed_time</c> as seconds.nanoseconds, the
    /// names padded to <paramref name="width"/>.
    /// </summary>
    public static void WriteHeader(StringBuilder text, DateTimeOffset now, DateTimeOffset started, int width, bool colon, string prefix)
    {
        var suffix = colon ? ":" : string.Empty;
        text.Append(CultureInfo.InvariantCulture, $"{prefix}{("snapshot_time" + suffix).PadRight(width)} {Seconds(now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks)} secs.nsecs\n");
        text.Append(CultureInfo.InvariantCulture, $"{prefix}{("start_time" + suffix).PadRight(width)} {Seconds(started.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks)} secs.nsecs\n");
        text.Append(CultureInfo.InvariantCulture, $"{prefix}{("elapsed_time" + suffix).PadRight(width)} {Seconds(Math.Max(0, now.UtcTicks - started.UtcTicks))} secs.nsecs\n");
    }

    /// <summary>The bucket of a value in a log2 histogram (lprocfs_oh_tally_log2): 0 for 0 and 1, else the bits of value − 1.</summary>
    public static int Log2Bucket(long value) =>
        value <= 1 ? 0 : Math.Min(64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(value - 1)), HistogramBuckets - 1);

    /// <summary>A bucket as lprocfs names it, by the largest value it holds: 1, 2, ... 512, 1K, ... 512K, 1M, ..., 1G, ...</summary>
    public static string BucketName(int bucket) => bucket switch
    {
        < 10 => (1L << bucket).ToString(CultureInfo.InvariantCulture),
        < 20 => string.Create(CultureInfo.InvariantCulture, $"{1L << (bucket - 10)}K"),
        < 30 => string.Create(CultureInfo.InvariantCulture, $"{1L << (bucket - 20)}M"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{1L << (bucket - 30)}G"),
    };

    /// <summary>
    /// A job id as lprocfs_jobstats_seq_show prints it: bare when it holds only letters, digits and <c>.@-_/</c>; else in
    /// double quotes, with any other byte as <c>\xHH</c> (a <c>:</c> or a leading <c>@</c> only quotes it), so that it
    /// stays one YAML scalar whatever a client sent.
    /// </summary>
    public static string EscapeJobId(string jobId)
    {
        var quote = jobId.StartsWith('@');
        var escaped = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(jobId))
        {
            var c = (char)b;
            if (b < 0x80 && (char.IsAsciiLetterOrDigit(c) || ".@-_:/".Contains(c, StringComparison.Ordinal)))
            {
                quote |= c == ':';
                escaped.Append(c);
            }
            else
            {
                quote = true;
                escaped.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
            }
        }

        return quote ? $"\"{escaped}\"" : escaped.ToString();
    }

    private (long Count, long Min, long Max, long Sum, long Squares) Read(int index)
    {
        var at = index * Fields;
        return (Volatile.Read(ref _values[at + Count]), Volatile.Read(ref _values[at + Min]), Volatile.Read(ref _values[at + Max]),
            Volatile.Read(ref _values[at + Sum]), Volatile.Read(ref _values[at + SumSquares]));
    }

    private static string Seconds(long ticks) =>
        string.Create(CultureInfo.InvariantCulture, $"{ticks / TimeSpan.TicksPerSecond}.{ticks % TimeSpan.TicksPerSecond * 100:D9}");
}
