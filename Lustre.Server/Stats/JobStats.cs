using System.Collections.Concurrent;
using System.Text;

namespace Lustre.Server.Stats;

/// <summary>
/// A target's <c>job_stats</c> (lustre/obdclass/lprocfs_jobstats.c): a <see cref="CounterSet"/> per job id, made at the
/// job's first request, printed in the order jobs appeared, dropped when idle for <see cref="CleanupInterval"/> (Lustre's
/// <c>job_cleanup_interval</c>, default 600 s; 0 keeps them) or on <c>set_param *.job_stats=clear</c>. Bounded, since
/// job ids come from clients: at most <see cref="MaxJobs"/> jobs (a new job past that evicts the least recently active
/// one, after the idle ones) and ids of at most 31 bytes (longer ones are not counted; the wire refuses them anyway).
/// </summary>
internal sealed class JobStats(IReadOnlyList<CounterDefinition> counters, TimeProvider? time = null)
{
    /// <summary>The most jobs one target tracks; with the MDT's 27 counters, their <c>job_stats</c> stays under 8 MiB.</summary>
    public const int MaxJobs = 1024;

    /// <summary>Lustre's LUSTRE_JOBID_SIZE without the NUL.</summary>
    public const int MaxJobIdLength = 31;

    /// <summary>Lustre's default <c>job_cleanup_interval</c>: 10 minutes.</summary>
    public static readonly TimeSpan DefaultCleanupInterval = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private long _cleanupInterval = DefaultCleanupInterval.Ticks;
    private long _lastCleanup = (time ?? TimeProvider.System).GetUtcNow().UtcTicks;
    private long _sequence;
    private long _evicted;

    /// <summary>How long a job may stay idle before it is dropped; zero keeps jobs until cleared.</summary>
    public TimeSpan CleanupInterval
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _cleanupInterval));
        set
        {
            Interlocked.Exchange(ref _cleanupInterval, value.Ticks);
            Cleanup(force: true);
        }
    }

    public int Count => _jobs.Count;

    /// <summary>Jobs dropped to make room for new ones since the target started.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Adds one sample to counter <paramref name="counter"/> of job <paramref name="jobId"/> (nothing for no job).</summary>
    public void Add(string jobId, int counter, long value)
    {
        if (jobId.Length == 0 || jobId.Length > MaxJobIdLength)
        {
            return;
        }

        var now = _time.GetUtcNow().UtcTicks;
        if (!_jobs.TryGetValue(jobId, out var job))
        {
            job = Insert(jobId, now);
        }

        Volatile.Write(ref job.Latest, now);
        job.Counters.Add(counter, value);
    }

    /// <summary>The counters of <paramref name="jobId"/>, or null when it is not tracked.</summary>
    public CounterSet? Find(string jobId) => _jobs.TryGetValue(jobId, out var job) ? job.Counters : null;

    /// <summary>Drops every job (<c>job_stats=clear</c>).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _jobs.Clear();
        }
    }

    /// <summary>Drops one job (<c>job_stats=JOBID</c>, as Lustre); false when it is not tracked.</summary>
    public bool Remove(string jobId)
    {
        lock (_lock)
        {
            return _jobs.TryRemove(jobId, out _);
        }
    }

    /// <summary>
    /// The YAML lctl prints: <c>job_stats:</c>, then per job <c>- job_id:</c>, its times and every counter; empty with no
    /// job. Idle jobs past the interval are dropped first, as reading Lustre's file does.
    /// </summary>
    public string Write()
    {
        Cleanup(force: false);
        var jobs = _jobs.ToArray();
        if (jobs.Length == 0)
        {
            return string.Empty;
        }

        Array.Sort(jobs, static (a, b) => a.Value.Sequence.CompareTo(b.Value.Sequence));
        var text = new StringBuilder("job_stats:\n");
        foreach (var (id, job) in jobs)
        {
            job.Counters.WriteJob(text, id, new DateTimeOffset(Volatile.Read(ref job.Latest), TimeSpan.Zero));
        }

        return text.ToString().TrimEnd('\n');
    }

    /// <summary>Every job with its counters, for the metrics.</summary>
    public IEnumerable<(string JobId, CounterSet Counters)> Jobs()
    {
        foreach (var (id, job) in _jobs)
        {
            yield return (id, job.Counters);
        }
    }

    private Job Insert(string jobId, long now)
    {
        Cleanup(force: false);
        lock (_lock)
        {
            if (_jobs.TryGetValue(jobId, out var existing))
            {
                return existing;
            }

            if (_jobs.Count >= MaxJobs)
            {
                // Full of active jobs: the one idle longest makes room.
                var oldest = default(KeyValuePair<string, Job>);
                foreach (var entry in _jobs)
                {
                    if (oldest.Value is null || Volatile.Read(ref entry.Value.Latest) < Volatile.Read(ref oldest.Value.Latest))
                    {
                        oldest = entry;
                    }
                }

                _jobs.TryRemove(oldest.Key, out _);
                Interlocked.Increment(ref _evicted);
            }

            var job = new Job(new CounterSet(counters, now), ++_sequence, now);
            _jobs[jobId] = job;
            return job;
        }
    }

    /// <summary>
    /// Drops jobs idle longer than the interval, at most twice per interval unless <paramref name="force"/>d (Lustre scans
    /// on the same schedule, so a job may outlive the interval by up to half of it).
    /// </summary>
    private void Cleanup(bool force)
    {
        var interval = Interlocked.Read(ref _cleanupInterval);
        var now = _time.GetUtcNow().UtcTicks;
        if (interval <= 0 || (!force && now - Interlocked.Read(ref _lastCleanup) < interval / 2))
        {
            return;
        }

        lock (_lock)
        {
            Interlocked.Exchange(ref _lastCleanup, now);
            foreach (var (id, job) in _jobs)
            {
                if (now - Volatile.Read(ref job.Latest) >= interval)
                {
                    _jobs.TryRemove(id, out _);
                }
            }
        }
    }

    private sealed class Job(CounterSet counters, long sequence, long now)
    {
        public readonly CounterSet Counters = counters;
        public readonly long Sequence = sequence;
        public long Latest = now;
    }
}
