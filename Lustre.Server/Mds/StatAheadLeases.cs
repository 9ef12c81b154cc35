using System.Diagnostics;

namespace Lustre.Server.Mds;

/// <summary>
/// The MDT's read leases for statahead (Lustre's statahead entries live under LDLM locks the MDS calls back; these are
/// leases that run out instead). A batched getattr that asks for one gets it only when nothing changed on the MDT while
/// it read and for <see cref="Quiet"/> before; from then until <see cref="Duration"/> has passed, no change applies:
/// the MDT's writer loop and every open for write wait for the lease to end first. So whatever the batch answered stays
/// true until the lease ends, and a client may answer stats from it until then, measured from when it sent the request
/// (before the MDS granted it, so the client's lease always ends first, whatever the two clocks read). A lease covers
/// the whole MDT: nothing to call back, and nothing lost when the MDS restarts, because a new instance holds its
/// changes for one <see cref="Duration"/> after it starts. The price is paid by a change that comes within a lease: it
/// waits at most <see cref="Duration"/>, less when the client releases the lease (<see cref="Release"/>) once it has
/// used every answer; a busy MDT (a change within <see cref="Quiet"/>) grants none. Each lease has a random id, so only
/// the client it was granted to can release it. Thread-safe.
/// </summary>
internal sealed class StatAheadLeases
{
    /// <summary>How long a lease lasts by default.</summary>
    public static readonly TimeSpan DefaultDuration = TimeSpan.FromMilliseconds(100);

    /// <summary>How long the MDT must have gone without a change before it grants a lease, by default.</summary>
    public static readonly TimeSpan DefaultQuiet = TimeSpan.FromMilliseconds(100);

    /// <summary>The longest lease taken: a change never waits longer than this.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private readonly long _duration;
    private readonly long _quiet;

    /// <summary>The leases granted and not released, by id: when each ends (expired ones are dropped as they are found).</summary>
    private readonly Dictionary<ulong, long> _leases = [];

    /// <summary>Completed (and replaced) when a lease is released, so a change waiting for the leases looks again.</summary>
    private TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Until when a new instance holds its changes: leases a previous one granted may still run.</summary>
    private readonly long _startHold;
    private long _lastChangeEnd;
    private long _sequence;
    private int _changing;
    private long _granted;
    private long _waited;

    /// <param name="duration">How long a lease lasts; zero grants none.</param>
    /// <param name="quiet">How long the MDT must have gone without a change before it grants one.</param>
    public StatAheadLeases(TimeSpan duration, TimeSpan quiet)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(duration, MaxDuration);
        ArgumentOutOfRangeException.ThrowIfLessThan(quiet, TimeSpan.Zero);
        Duration = duration;
        Quiet = quiet;
        _duration = ToTicks(duration);
        _quiet = ToTicks(quiet);

        // Leases a previous instance granted may still run: hold changes for one lease (and count from a change, for the quiet time).
        var now = Stopwatch.GetTimestamp();
        _startHold = now + _duration;
        _lastChangeEnd = now;
    }

    public TimeSpan Duration { get; }

    public TimeSpan Quiet { get; }

    /// <summary>Leases granted so far.</summary>
    public long Granted => Interlocked.Read(ref _granted);

    /// <summary>Changes that waited for a lease to end.</summary>
    public long Waited => Interlocked.Read(ref _waited);

    /// <summary>Read before a batch reads the MDT, and handed back to <see cref="TryGrant"/>.</summary>
    public long Sequence
    {
        get
        {
            lock (_lock)
            {
                return _sequence;
            }
        }
    }

    /// <summary>Whether a lease could be granted now: checked before reading a batch, so a busy MDT is not asked for one that it will refuse.</summary>
    public bool MayGrant
    {
        get
        {
            if (_duration == 0)
            {
                return false;
            }

            lock (_lock)
            {
                return _changing == 0 && Stopwatch.GetTimestamp() - _lastChangeEnd >= _quiet;
            }
        }
    }

    /// <summary>Leases granted and neither released nor known to have ended.</summary>
    public int Active
    {
        get
        {
            lock (_lock)
            {
                return _leases.Count;
            }
        }
    }

    /// <summary>
    /// Grants a lease over what was read since <paramref name="sequence"/> was taken, when nothing changed meanwhile
    /// nor for <see cref="Quiet"/> before; returns its length and id, or zero for none.
    /// </summary>
    public (TimeSpan Duration, ulong Id) TryGrant(long sequence)
    {
        if (_duration == 0)
        {
            return default;
        }

        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            if (sequence != _sequence || _changing != 0 || now - _lastChangeEnd < _quiet)
            {
                return default;
            }

            DropEnded(now);
            ulong id;
            Span<byte> random = stackalloc byte[sizeof(ulong)];
            do
            {
                System.Security.Cryptography.RandomNumberGenerator.Fill(random);
                id = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(random);
            }
            while (id == 0 || !_leases.TryAdd(id, now + _duration));

            _granted++;
            return (Duration, id);
        }
    }

    /// <summary>Ends lease <paramref name="id"/> early; an unknown or ended one is ignored.</summary>
    public void Release(ulong id)
    {
        TaskCompletionSource released;
        lock (_lock)
        {
            if (!_leases.Remove(id))
            {
                return;
            }

            released = _released;
            _released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        released.TrySetResult();
    }

    /// <summary>
    /// Starts a change: from now on no lease is granted until <see cref="EndChange"/>; completes when every lease
    /// granted before has ended (at once when none runs). Every call must be followed by one <see cref="EndChange"/>.
    /// </summary>
    public ValueTask BeginChangeAsync()
    {
        long wait;
        lock (_lock)
        {
            _changing++;
            _sequence++;
            wait = Wait(out _);
        }

        if (wait <= 0)
        {
            return ValueTask.CompletedTask;
        }

        Interlocked.Increment(ref _waited);
        return WaitAsync();
    }

    /// <summary>
    /// Waits out the leases: none is granted meanwhile, so their end can only come sooner, when one is released (which
    /// wakes this up to look again); a timer that fires early waits again.
    /// </summary>
    private async ValueTask WaitAsync()
    {
        while (true)
        {
            long wait;
            Task released;
            lock (_lock)
            {
                wait = Wait(out released);
            }

            if (wait <= 0)
            {
                return;
            }

            await Task.WhenAny(Task.Delay(Stopwatch.GetElapsedTime(0, wait) + TimeSpan.FromMilliseconds(1)), released).ConfigureAwait(false);
        }
    }

    /// <summary>How long until every lease (and the start's hold) has ended, in ticks; under the lock.</summary>
    private long Wait(out Task released)
    {
        var now = Stopwatch.GetTimestamp();
        DropEnded(now);
        var end = _startHold;
        foreach (var leaseEnd in _leases.Values)
        {
            end = Math.Max(end, leaseEnd);
        }

        released = _released.Task;
        return end - now;
    }

    /// <summary>Forgets leases that have ended; under the lock.</summary>
    private void DropEnded(long now)
    {
        foreach (var (id, end) in _leases)
        {
            if (end <= now)
            {
                _leases.Remove(id);
            }
        }
    }

    /// <summary>Ends a change begun with <see cref="BeginChangeAsync"/>; the MDT counts as busy for <see cref="Quiet"/> from now.</summary>
    public void EndChange()
    {
        lock (_lock)
        {
            _changing--;
            _sequence++;
            _lastChangeEnd = Stopwatch.GetTimestamp();
        }
    }

    private static long ToTicks(TimeSpan time) => (long)(time.TotalSeconds * Stopwatch.Frequency);
}
