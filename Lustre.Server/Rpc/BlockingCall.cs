using System.Threading.Tasks.Sources;
using Lustre.Protocol;
using Lustre.Threading;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.Server.Rpc;

/// <summary>
/// Runs a call that blocks in the kernel — an fsync of an object, a truncate that frees (and on a <c>discard</c>
/// mount, trims) many blocks, an MDT checkpoint — on a thread of the server's own, never of the thread pool. On the
/// thread pool such a call takes one of as few threads as there are cores (two here) for its whole length, and every
/// other request of the server, of any target, waits for the rest: measured, cached 4 KiB reads stalled for the
/// whole 300 ms fsync of 1 GiB in three runs of four.
/// <para>
/// The threads are kept and reused: a call goes to a waiting thread, or a new one while fewer than
/// <see cref="MaxThreads"/> run, else waits for one. A thread per call (what this was) cost a thread's creation and
/// teardown on every flush, which small files make once per file: measured in <c>io500</c>'s mdtest-hard with files on
/// OSTs, one <c>OstSync</c> per file (docs/benchmarks.md). A thread left without a call for
/// <see cref="IdleLifetime"/> ends.
/// </para>
/// </summary>
internal sealed class BlockingCall
{
    /// <summary>
    /// Calls that block at once in the server's pool; more wait for a thread. Each target's queue already bounds its
    /// own calls (its workers), so this only caps the process against a flood: well above what the targets of one
    /// server run together.
    /// </summary>
    public const int MaxThreads = 256;

    /// <summary>How long a thread of the server's pool waits for another call before it ends.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(10);

    /// <summary>The pool every server of the process uses (through the static <c>RunAsync</c>).</summary>
    private static readonly BlockingCall Shared = new(MaxThreads, IdleLifetime);

    private readonly int _maxThreads;
    private readonly TimeSpan _idleLifetime;
    private readonly Lock _gate = new();
    private readonly Queue<Call> _pending = new();

    // Waiting threads, the one that waited least last: a call wakes it, so a steady trickle of calls keeps reusing
    // the same few threads and the rest end after their idle lifetime.
    private readonly List<Worker> _idle = [];
    private int _threads;

    /// <summary>A pool of its own; tests make small ones, so as not to block the shared one.</summary>
    internal BlockingCall(int maxThreads, TimeSpan idleLifetime)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxThreads, 1);
        _maxThreads = maxThreads;
        _idleLifetime = idleLifetime;
    }

    /// <summary>Threads running now (waiting or in a call); for tests.</summary>
    internal int ThreadCount
    {
        get
        {
            lock (_gate)
            {
                return _threads;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> on a thread of the shared pool. The call's record is pooled and awaited as a
    /// <see cref="ValueTask"/>, so a call allocates nothing in steady state (a direct write makes one per data RPC).
    /// Await the result once.
    /// </summary>
    public static ValueTask RunAsync<TState>(Action<TState> call, TState state) => Shared.Run(call, state);

    /// <summary>As <see cref="RunAsync{TState}(Action{TState}, TState)"/>, with the call's result; await it once.</summary>
    public static ValueTask<TResult> RunAsync<TState, TResult>(Func<TState, TResult> call, TState state) => Shared.Run(call, state);

    /// <summary>Runs <paramref name="call"/> on a thread of this pool, in a pooled record (<see cref="RunAsync{TState}(Action{TState}, TState)"/>).</summary>
    internal ValueTask Run<TState>(Action<TState> call, TState state)
    {
        var pending = PooledCall<(Action<TState> Call, TState State), bool>.Rent(static s => { s.Call(s.State); return true; }, (call, state));
        var task = pending.UntypedTask;
        Post(pending);
        return task;
    }

    /// <summary>Runs <paramref name="call"/> on a thread of this pool; its result or failure comes back through the pooled task.</summary>
    internal ValueTask<TResult> Run<TState, TResult>(Func<TState, TResult> call, TState state)
    {
        var pending = PooledCall<TState, TResult>.Rent(call, state);
        var task = pending.Task;
        Post(pending);
        return task;
    }

    private void Post(Call call)
    {
        lock (_gate)
        {
            if (_idle.Count > 0)
            {
                var worker = _idle[^1];
                _idle.RemoveAt(_idle.Count - 1);
                worker.Give(call);
                return;
            }

            if (_threads < _maxThreads)
            {
                var worker = new Worker(this, call);
                new Thread(worker.Serve) { IsBackground = true, Name = "Lustre blocking call" }.UnsafeStart();

                // Counted once started: a thread the process cannot start throws to the caller and counts nothing.
                _threads++;
                return;
            }

            // Every thread is in a call: the first to finish takes this one.
            _pending.Enqueue(call);
        }
    }

    /// <summary>One of the threads: runs its call, then the queued ones, then waits to be given another.</summary>
    private sealed class Worker(BlockingCall pool, Call first)
    {
        // Next is written under the pool's gate (and this lock, to wake the thread), read under either.
        private readonly object _signal = new();
        private Call? _next = first;

        public void Give(Call call)
        {
            lock (_signal)
            {
                _next = call;
                Monitor.Pulse(_signal);
            }
        }

        public void Serve()
        {
            while (true)
            {
                var call = _next!;
                _next = null;
                call.Run();

                // Back among the waiting (or on to a queued call) before the caller hears: its next call finds this thread.
                bool queuedNext;
                lock (pool._gate)
                {
                    queuedNext = pool._pending.TryDequeue(out var queued);
                    if (queuedNext)
                    {
                        _next = queued;
                    }
                    else
                    {
                        pool._idle.Add(this);
                    }
                }

                call.Complete();
                if (queuedNext)
                {
                    continue;
                }

                lock (_signal)
                {
                    if (_next is null)
                    {
                        Monitor.Wait(_signal, pool._idleLifetime);
                    }
                }

                lock (pool._gate)
                {
                    // Given a call at the last moment, or not: then no one can give it one any more.
                    if (_next is null)
                    {
                        pool._idle.Remove(this);
                        pool._threads--;
                        return;
                    }
                }
            }
        }
    }

    /// <summary>A queued call: <see cref="Run"/> keeps its outcome (never throws), <see cref="Complete"/> hands it to the caller.</summary>
    private abstract class Call
    {
        public abstract void Run();

        public abstract void Complete();
    }

    /// <summary>
    /// A pooled call whose caller resumes on the thread pool (<see cref="DeferredCompletion{TResult}"/>), never on this
    /// pool's thread, which serves the next blocking call; back in its type's pool once the caller has its outcome.
    /// </summary>
    private sealed class PooledCall<TState, TResult> : Call, IValueTaskSource, IValueTaskSource<TResult>
    {
        /// <summary>Records kept per state type: more than run at once here in practice; past it they are dropped.</summary>
        private const int MaxPooled = 256;

        private static readonly ObjectPool<PooledCall<TState, TResult>> Pool = ReusedObjects.Pool(() => new PooledCall<TState, TResult>(), MaxPooled);

        private readonly DeferredCompletion<TResult> _core = new();
        private Func<TState, TResult>? _call;
        private TState? _state;
        private TResult? _result;
        private Exception? _failure;

        public ValueTask<TResult> Task => new(this, _core.Version);

        public ValueTask UntypedTask => new(this, _core.Version);

        public static PooledCall<TState, TResult> Rent(Func<TState, TResult> call, TState state)
        {
            var pooled = Pool.Get();
            pooled._call = call;
            pooled._state = state;
            return pooled;
        }

        public override void Run()
        {
            try
            {
                _result = _call!(_state!);
            }
#pragma warning disable CA1031 // The failure belongs to the caller, through its task.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _failure = ex;
            }
        }

        public override void Complete()
        {
            if (_failure is { } failure)
            {
                _core.SetException(failure);
            }
            else
            {
                _core.SetResult(_result!);
            }
        }

        public TResult GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                _call = null;
                _state = default;
                _result = default;
                _failure = null;
                Pool.Return(this);
            }
        }

        void IValueTaskSource.GetResult(short token) => GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
