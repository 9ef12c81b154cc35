using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Mds;

/// <summary>
/// The layout migrations running on this MDT (<c>lfs migrate</c>: copy to new objects, then swap the layouts keeping
/// the FID) and what they hold writers to. Each has a lease its migrator renews, and a <b>data version</b>: a count of
/// what may have changed the file's bytes since the copy started (an open for writing, a size set by a flush, close or
/// truncate), which the swap must quote unchanged (docs/consistency.md, "Migration").
/// <para>
/// In memory, as the MDS's record of open handles it is checked against; the new objects are on the MDT
/// (<see cref="MdtKeys.Migration"/>), so they are destroyed whoever dies. One lock covers every state change and the
/// registration of writers, so an open for writing and a swap never pass each other: either the swap sees the writer
/// (and is refused) or the open sees the migration (and waits, or reads the layout again).
/// </para>
/// </summary>
internal sealed class LayoutMigrations(TimeSpan lease)
{
    /// <summary>How long a migration holds the file without a renewal from its migrator (which renews every third of it).</summary>
    public static readonly TimeSpan DefaultLease = TimeSpan.FromSeconds(60);

    private readonly Dictionary<LustreFid, Migration> _running = [];
    private readonly Lock _gate = new();
    private long _swaps;

    public TimeSpan Lease => lease;

    /// <summary>Swaps completed so far. An open reads it before it reads the inode, and reads the inode again when it moved.</summary>
    public long Swaps => Interlocked.Read(ref _swaps);

    /// <summary>What a migrator is told: where it is, and the data version its swap must quote.</summary>
    public readonly record struct View(ulong Id, MigrateState State, ulong DataVersion, byte[] NewLayout);

    /// <summary>
    /// Starts a migration of <paramref name="fid"/>. Refused while another one runs, and, for a non-blocking one, while
    /// the file is open for writing; a blocking one that finds writers drains them (their new opens wait meanwhile).
    /// </summary>
    public View Begin(LustreFid fid, byte[] oldLayout, byte[] newLayout, bool blocking, Func<bool> openForWrite)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(fid, out var running) && !running.Orphaned && !running.Lapsed(Environment.TickCount64))
            {
                throw new RpcStatusException(LustreErrno.EBUSY, "it is being migrated by another client: try again when that is done");
            }

            var writers = openForWrite();
            if (writers && !blocking)
            {
                throw new RpcStatusException(LustreErrno.EBUSY, "it is open for writing, and a non-blocking migration does not start while it is (a blocking one holds new writers off and waits for these to close)");
            }

            var migration = new Migration((ulong)Random.Shared.NextInt64(1, long.MaxValue), blocking, oldLayout, newLayout, orphaned: false)
            {
                State = writers ? MigrateState.Draining : MigrateState.Copy,
                LeaseUntil = Environment.TickCount64 + (long)lease.TotalMilliseconds,
            };
            _running[fid] = migration;
            return migration.ToView();
        }
    }

    /// <summary>Takes back a migration whose Begin did not commit.</summary>
    public void Forget(LustreFid fid, ulong id)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(fid, out var migration) && migration.Id == id)
            {
                _running.Remove(fid);
            }
        }
    }

    /// <summary>Extends the lease; a draining migration whose writers have all closed may copy from now on.</summary>
    public View Renew(LustreFid fid, ulong id, Func<bool> openForWrite)
    {
        lock (_gate)
        {
            var migration = Find(fid, id);
            migration.LeaseUntil = Environment.TickCount64 + (long)lease.TotalMilliseconds;
            if (migration.State == MigrateState.Draining && !openForWrite())
            {
                migration.State = MigrateState.Copy;
            }

            return migration.ToView();
        }
    }

    /// <summary>
    /// The checks of a swap, and the hold that keeps writers out until it is durable: the layout must be the one the copy
    /// read, the data version the one the copy started from, and no one may have the file open for writing.
    /// <see cref="Swapped"/> or <see cref="SwapFailed"/> must follow.
    /// </summary>
    public View StartSwap(LustreFid fid, ulong id, ulong dataVersion, byte[] layout, Func<bool> openForWrite)
    {
        lock (_gate)
        {
            var migration = Find(fid, id);
            if (!layout.AsSpan().SequenceEqual(migration.OldLayout))
            {
                throw new RpcStatusException(LustreErrno.ESTALE, "its layout changed during the migration (a mirror was added?), so the copy is of the old one");
            }

            if (migration.State != MigrateState.Copy)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, "its migration has not started copying: writers still had it open at the last renewal");
            }

            if (migration.DataVersion != dataVersion)
            {
                throw new RpcStatusException(LustreErrno.EBUSY, $"it changed during the migration ({migration.Change}): its data version is {migration.DataVersion}, the copy started from {dataVersion}");
            }

            if (openForWrite())
            {
                throw new RpcStatusException(LustreErrno.EBUSY, "it is open for writing: its layout cannot be swapped under a writer");
            }

            migration.Swapping = true;
            return migration.ToView();
        }
    }

    /// <summary>The swap is durable: the migration is over, and opens that read the old inode read it again.</summary>
    public void Swapped(LustreFid fid, ulong id)
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _swaps);
            if (_running.TryGetValue(fid, out var migration) && migration.Id == id)
            {
                _running.Remove(fid);
            }
        }
    }

    /// <summary>The swap was refused after <see cref="StartSwap"/> or did not commit: the file is as it was.</summary>
    public void SwapFailed(LustreFid fid, ulong id)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(fid, out var migration) && migration.Id == id)
            {
                migration.Swapping = false;
            }
        }
    }

    /// <summary>Ends a migration its migrator gave up; null when it is not running (lapsed, swapped, or never was).</summary>
    public byte[]? Abort(LustreFid fid, ulong id)
    {
        lock (_gate)
        {
            if (!_running.TryGetValue(fid, out var migration) || migration.Id != id || migration.Orphaned || migration.Swapping)
            {
                return null;
            }

            _running.Remove(fid);
            return migration.NewLayout;
        }
    }

    /// <summary>Takes every migration whose lease lapsed, with the new layout each placed, for its objects to be destroyed.</summary>
    public List<(LustreFid Fid, byte[] NewLayout)> TakeLapsed()
    {
        var now = Environment.TickCount64;
        var lapsed = new List<(LustreFid, byte[])>();
        lock (_gate)
        {
            foreach (var (fid, migration) in _running)
            {
                if (migration.Lapsed(now) && !migration.Swapping)
                {
                    lapsed.Add((fid, migration.NewLayout));
                }
            }

            foreach (var (fid, _) in lapsed)
            {
                _running.Remove(fid);
            }
        }

        return lapsed;
    }

    /// <summary>
    /// A migration found on the MDT at start: its migrator, if it still runs, learns at its next renewal that it is over;
    /// its objects are destroyed once a lease has passed, so no write of its copy lands after that.
    /// </summary>
    public void Adopt(LustreFid fid, byte[] newLayout)
    {
        lock (_gate)
        {
            _running[fid] = new Migration(0, blocking: false, [], newLayout, orphaned: true)
            {
                LeaseUntil = Environment.TickCount64 + (long)lease.TotalMilliseconds,
            };
        }
    }

    /// <summary>
    /// A writer opens the file: <paramref name="register"/> (the MDS noting it, given <paramref name="state"/> and the FID)
    /// runs under the gate. A migration that holds writers off refuses with EINPROGRESS (the client waits and tries
    /// again); a non-blocking one notes the change. Returns true when a swap completed since
    /// <paramref name="swapsBefore"/>: the caller's inode may be the old one.
    /// </summary>
    public bool RegisterWriter<TState>(LustreFid fid, long swapsBefore, TState state, Action<TState, LustreFid> register)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(fid, out var migration) && !migration.Orphaned)
            {
                if (!migration.Lapsed(Environment.TickCount64) && (migration.Blocking || migration.State == MigrateState.Draining || migration.Swapping))
                {
                    throw new RpcStatusException(LustreErrno.EINPROGRESS, $"{fid} is being migrated: an open for writing waits until its new layout is in place");
                }

                migration.Changed("it was opened for writing");
            }

            register(state, fid);
            return Interlocked.Read(ref _swaps) != swapsBefore;
        }
    }

    /// <summary>The file's size was set (a flush, a close, a truncate): its data version moves on.</summary>
    public void SizeSet(LustreFid fid)
    {
        lock (_gate)
        {
            if (_running.TryGetValue(fid, out var migration) && !migration.Orphaned)
            {
                migration.Changed("its size was set by a flush, close or truncate");
            }
        }
    }

    /// <summary>The new layout of a running migration, whose objects the migrator's capabilities cover too; null when none runs.</summary>
    public byte[]? NewLayoutOf(LustreFid fid)
    {
        lock (_gate)
        {
            return _running.TryGetValue(fid, out var migration) && !migration.Orphaned && !migration.Lapsed(Environment.TickCount64) ? migration.NewLayout : null;
        }
    }

    private Migration Find(LustreFid fid, ulong id)
    {
        if (!_running.TryGetValue(fid, out var migration) || migration.Id != id || migration.Orphaned)
        {
            throw new RpcStatusException(LustreErrno.ESTALE, $"no migration {id:x} of it is running: it was aborted, or the MDS restarted since it began");
        }

        if (migration.Lapsed(Environment.TickCount64))
        {
            throw new RpcStatusException(LustreErrno.ESTALE, $"its migration lapsed: the migrator renewed nothing for {lease.TotalSeconds:0} s");
        }

        return migration;
    }

    private sealed class Migration(ulong id, bool blocking, byte[] oldLayout, byte[] newLayout, bool orphaned)
    {
        public ulong Id { get; } = id;

        public bool Blocking { get; } = blocking;

        /// <summary>The layout the copy reads, as the inode held it at Begin: the swap is refused if it changed.</summary>
        public byte[] OldLayout { get; } = oldLayout;

        public byte[] NewLayout { get; } = newLayout;

        /// <summary>Found on the MDT at start: nobody may renew or swap it.</summary>
        public bool Orphaned { get; } = orphaned;

        public MigrateState State { get; set; } = MigrateState.Copy;

        public bool Swapping { get; set; }

        public ulong DataVersion { get; private set; } = 1;

        /// <summary>What moved the data version last, for the refusal's message.</summary>
        public string Change { get; private set; } = "nothing";

        public long LeaseUntil { get; set; }

        public bool Lapsed(long now) => now >= LeaseUntil;

        public void Changed(string why)
        {
            DataVersion++;
            Change = why;
        }

        public View ToView() => new(Id, State, DataVersion, NewLayout);
    }
}
