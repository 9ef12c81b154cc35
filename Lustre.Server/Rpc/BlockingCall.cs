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
internal static class BlockingCall
{
    /// <summary>
    /// Calls that block at once; more wait for a thread. Each target's queue already bounds its own calls (its
    /// workers), so this only caps the process against a flood: well above what the targets of one server run together.
    /// </summary>
    public const int MaxThreads = 256;

    /// <summary>How long a thread waits for another call before it ends.</summary>
    public static readonly TimeSpan IdleLifetime = TimeSpan.FromSeconds(10);

    private static readonly Lock Gate = new();
    private static readonly Queue<Call> Pending = new();

    // Waiting threads, the one that waited least last: a call wakes it, so a steady trickle of calls keeps reusing
    // the same few threads and the rest end after their idle lifetime.
    private static readonly List<Worker> Idle = [];
    private static int _threads;

    /// <summary>Threads running now (waiting or in a call); for tests.</summary>
    internal static int ThreadCount
    {
        get
        {
            lock (Gate)
            {
                return _threads;
            }
        }
    }

    public static Task RunAsync<TState>(Action<TState> call, TState state)
    {
        var pending = new VoidCall<TState>(call, state);
        Post(pending);
        return pending.Task;
    }

    public static Task<TResult> RunAsync<TState, TResult>(Func<TState, TResult> call, TState state)
    {
        var pending = new ResultCall<TState, TResult>(call, state);
        Post(pending);
        return pending.Task;
    }

    private static void Post(Call call)
    {
        lock (Gate)
        {
            if (Idle.Count > 0)
            {
                var worker = Idle[^1];
                Idle.RemoveAt(Idle.Count - 1);
                worker.Give(call);
                return;
            }

            if (_threads < MaxThreads)
            {
                var worker = new Worker(call);
                new Thread(worker.Serve) { IsBackground = true, Name = "Lustre blocking call" }.UnsafeStart();

                // Counted once started: a thread the process cannot start throws to the caller and counts nothing.
                _threads++;
                return;
            }

            // Every thread is in a call: the first to finish takes this one.
            Pending.Enqueue(call);
        }
    }

    /// <summary>One of the threads: runs its call, then the queued ones, then waits to be given another.</summary>
    private sealed class Worker(Call first)
    {
        // Next is written under Gate (and this lock, to wake the thread), read under either.
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
                lock (Gate)
                {
                    if (Pending.TryDequeue(out var queued))
                    {
                        _next = queued;
                        continue;
                    }

                    Idle.Add(this);
                }

                lock (_signal)
                {
                    if (_next is null)
                    {
                        Monitor.Wait(_signal, IdleLifetime);
                    }
                }

                lock (Gate)
                {
                    // Given a call at the last moment, or not: then no one can give it one any more.
                    if (_next is null)
                    {
                        Idle.Remove(this);
                        _threads--;
                        return;
                    }
                }
            }
        }
    }

    /// <summary>A queued call; completes its task itself and never throws.</summary>
    private abstract class Call
    {
        public abstract void Run();
    }

    private sealed class VoidCall<TState>(Action<TState> call, TState state) : Call
    {
        // Continuations go back to the thread pool: this thread serves the next blocking call, not the caller's reply.
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Task => _completion.Task;

        public override void Run()
        {
            try
            {
                call(state);
                _completion.SetResult();
            }
#pragma warning disable CA1031 // The failure belongs to the caller, through its task.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _completion.SetException(ex);
            }
        }
    }

    private sealed class ResultCall<TState, TResult>(Func<TState, TResult> call, TState state) : Call
    {
        private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<TResult> Task => _completion.Task;

        public override void Run()
        {
            try
            {
                _completion.SetResult(call(state));
            }
#pragma warning disable CA1031 // The failure belongs to the caller, through its task.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _completion.SetException(ex);
            }
        }
    }
}
