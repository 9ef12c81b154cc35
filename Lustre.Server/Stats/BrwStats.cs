using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Lustre.Server.Stats;

/// <summary>
/// An OST's <c>brw_stats</c> (lustre/obdclass/lprocfs_status_server.c): read and write histograms of each bulk RPC,
/// printed as lctl prints them. What an OST here can tell honestly: pages per RPC (4 KiB pages), discontiguous pages and
/// blocks (always 0: an RPC is one contiguous range), disk fragmented I/Os (1: one pread or pwrite), the RPCs in flight
/// on the OST when it started, its time in milliseconds and its size. <c>block maps msec</c> (ldiskfs's block mapping)
/// has no counterpart and stays empty. Writing anything clears it.
/// </summary>
internal sealed class BrwStats
{
    private static readonly (string Name, string Unit, bool Scale)[] Histograms =
    [
        ("pages per bulk r/w", "rpcs", true),
        ("discontiguous pages", "rpcs", false),
        ("discontiguous blocks", "rpcs", false),
        ("disk fragmented I/Os", "ios", false),
        ("disk I/Os in flight", "ios", false),
        ("I/O time (1/1000s)", "ios", true),
        ("disk I/O size", "ios", true),
        ("block maps msec", "maps", true),
    ];

    private const int Pages = 0;
    private const int DiscontiguousPages = 1;
    private const int DiscontiguousBlocks = 2;
    private const int Fragments = 3;
    private const int InFlight = 4;
    private const int Time = 5;
    private const int Size = 6;

    // Per histogram, read then write, CounterSet.HistogramBuckets each.
    private readonly long[] _buckets = new long[Histograms.Length * 2 * CounterSet.HistogramBuckets];
    private long _started = DateTimeOffset.UtcNow.UtcTicks;
    private int _inFlight;

    /// <summary>Starts one bulk I/O: returns the I/Os in flight with it and when it began (<see cref="End"/> takes both).</summary>
    public (int InFlight, long Started) Begin() => (Interlocked.Increment(ref _inFlight), Stopwatch.GetTimestamp());

    /// <summary>Ends an I/O that <see cref="Begin"/> started, whether it moved bytes or failed.</summary>
    public void Leave() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Counts a bulk I/O of <paramref name="bytes"/> that <see cref="Begin"/> started.</summary>
    public void End((int InFlight, long Started) io, bool write, long bytes)
    {
        var milliseconds = (long)Stopwatch.GetElapsedTime(io.Started).TotalMilliseconds;
        Tally(Pages, write, CounterSet.Log2Bucket((bytes + 4095) / 4096));
        Tally(DiscontiguousPages, write, 0);
        Tally(DiscontiguousBlocks, write, 0);
        Tally(Fragments, write, 1);
        Tally(InFlight, write, Math.Min(io.InFlight, CounterSet.HistogramBuckets - 1));
        Tally(Time, write, CounterSet.Log2Bucket(milliseconds));
        Tally(Size, write, CounterSet.Log2Bucket(bytes));
    }

    public void Clear()
    {
        for (var i = 0; i < _buckets.Length; i++)
        {
            Volatile.Write(ref _buckets[i], 0);
        }

        Interlocked.Exchange(ref _started, DateTimeOffset.UtcNow.UtcTicks);
    }

    /// <summary>The samples of a histogram in a bucket, for tests: <paramref name="histogram"/> as lctl names it.</summary>
    public long Bucket(string histogram, bool write, int bucket) =>
        Volatile.Read(ref _buckets[Index(Array.FindIndex(Histograms, h => h.Name == histogram), write, bucket)]);

    /// <summary>brw_stats_seq_show's text.</summary>
    public string Write(DateTimeOffset now)
    {
        var text = new StringBuilder();
        CounterSet.WriteHeader(text, now, new DateTimeOffset(Interlocked.Read(ref _started), TimeSpan.Zero), 25, colon: true, prefix: string.Empty);
        for (var h = 0; h < Histograms.Length; h++)
        {
            var (name, unit, scale) = Histograms[h];
            text.Append(CultureInfo.InvariantCulture, $"\n{" ",26} read      |     write\n");
            text.Append(CultureInfo.InvariantCulture, $"{name,-22} {unit,-5} % cum % |  {unit,-11} % cum %\n");
            long readTotal = 0, writeTotal = 0;
            for (var b = 0; b < CounterSet.HistogramBuckets; b++)
            {
                readTotal += Volatile.Read(ref _buckets[Index(h, false, b)]);
                writeTotal += Volatile.Read(ref _buckets[Index(h, true, b)]);
            }

            if (readTotal == 0 && writeTotal == 0)
            {
                continue;
            }

            long readCum = 0, writeCum = 0;
            for (var b = 0; b < CounterSet.HistogramBuckets; b++)
            {
                var r = Volatile.Read(ref _buckets[Index(h, false, b)]);
                var w = Volatile.Read(ref _buckets[Index(h, true, b)]);
                readCum += r;
                writeCum += w;
                if (readCum == 0 && writeCum == 0)
                {
                    continue;
                }

                var label = scale ? CounterSet.BucketName(b) : b.ToString(CultureInfo.InvariantCulture);
                text.Append(CultureInfo.InvariantCulture, $"{label}:\t\t{r,10} {Percent(r, readTotal),3} {Percent(readCum, readTotal),3}   | {w,4} {Percent(w, writeTotal),3} {Percent(writeCum, writeTotal),3}\n");
                if (readCum == readTotal && writeCum == writeTotal)
                {
                    break;
                }
            }
        }

        return text.ToString().TrimEnd('\n');
    }

    private void Tally(int histogram, bool write, int bucket) => Interlocked.Increment(ref _buckets[Index(histogram, write, bucket)]);

    private static int Index(int histogram, bool write, int bucket) => (((histogram * 2) + (write ? 1 : 0)) * CounterSet.HistogramBuckets) + bucket;

    /// <summary>Lustre's pct(): a share in whole percent, 0 of nothing.</summary>
    private static long Percent(long part, long whole) => whole == 0 ? 0 : part * 100 / whole;
}
