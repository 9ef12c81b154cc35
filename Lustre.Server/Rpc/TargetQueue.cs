using System.Runtime.CompilerServices;
using Lustre.Server.Diagnostics;

namespace Lustre.Server.Rpc;

/// <summary>
/// The requests waiting for one target (an OST, the MDT, or the MGS and control opcodes), as a Lustre service has
/// its own request queue and threads: a bounded queue served by a fixed number of workers. A slow request holds
/// one worker of its own target only, so other targets, and the other workers of this one, go on.
/// </summary>
/// <remarks>
/// Not a <c>Channel</c>: a channel with several readers allocates an operation for every reader that waits, that
/// is for nearly every request of a target that is not saturated. Here an idle worker is handed its next request
/// directly and queued to the thread pool as a work item of its own, so queueing a request allocates nothing.
/// </remarks>
internal sealed class TargetQueue : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Queue<RpcRequest> _waiting;
    private readonly Stack<Worker> _idle;
    private readonly SemaphoreSlim _room;
    private readonly int _workers;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _closed;

    /// <param name="server">The server's name, a tag of the target's metrics.</param>
    /// <param name="name">The target, e.g. "OST0001", "MDT0000" or "control"; a tag of its metrics and spans.</param>
    /// <param name="capacity">Requests that may wait; a session that finds the queue full stops reading its socket until one leaves.</param>
    /// <param name="workers">Requests of this target that run at once.</param>
    public TargetQueue(string server, string name, int capacity, int workers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        Server = server;
        Name = name;
        _workers = workers;
        _waiting = new Queue<RpcRequest>(capacity);
        _room = new SemaphoreSlim(capacity);
        _idle = new Stack<Worker>(workers);
        for (var i = 0; i < workers; i++)
        {
            _idle.Push(new Worker(this));
        }

        ServerDiagnostics.Register(this);
    }

    public string Server { get; }

    public string Name { get; }

    /// <summary>Requests waiting for a worker.</summary>
    public int Depth
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Queues <paramref name="request"/>, whose <see cref="RpcRequest.Session"/> runs it; waits while the queue is full.</summary>
    public ValueTask EnqueueAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        // A semaphore with room completes at once without allocating; only a full queue makes the session wait.
        var room = _room.WaitAsync(cancellationToken);
        if (room.IsCompletedSuccessfully)
        {
            Hand(request);
            return ValueTask.CompletedTask;
        }

        return WaitForRoomAsync(room, request);
    }

    private async ValueTask WaitForRoomAsync(Task room, RpcRequest request)
    {
        await room.ConfigureAwait(false);
        Hand(request);
    }

    /// <summary>To an idle worker, or to the back of the queue.</summary>
    private void Hand(RpcRequest request)
    {
        Worker? worker;
        lock (_lock)
        {
            if (_closed)
            {
                _room.Release();
                throw new OperationCanceledException($"{Name} takes no more requests: the server is stopping.");
            }

            if (!_idle.TryPop(out worker))
            {
                _waiting.Enqueue(request);
                return;
            }
        }

        _room.Release();
        worker.Start(request);
    }

    /// <summary>The next waiting request for <paramref name="worker"/>; null makes it idle (and may end the drain).</summary>
    private RpcRequest? Next(Worker worker)
    {
        lock (_lock)
        {
            if (_waiting.TryDequeue(out var request))
            {
                _room.Release();
                return request;
            }

            _idle.Push(worker);
            if (_closed && _idle.Count == _workers)
            {
                _drained.TrySetResult();
            }

            return null;
        }
    }

    /// <summary>Takes no more requests, runs those already queued, and waits for the workers to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            _closed = true;
            if (_idle.Count == _workers)
            {
                _drained.TrySetResult();
            }
        }

        await _drained.Task.ConfigureAwait(false);
        ServerDiagnostics.Unregister(this);
    }

    /// <summary>
    /// One of the target's workers: a thread-pool work item that runs requests until the queue is empty. It awaits
    /// by hand (an awaiter and a cached continuation) rather than in an async method, whose state machine would be
    /// a new object for every request it is handed.
    /// </summary>
    private sealed class Worker : IThreadPoolWorkItem
    {
        private readonly TargetQueue _queue;
        private readonly Action _resume;
        private RpcRequest? _first;
        private ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter _running;

        public Worker(TargetQueue queue)
        {
            _queue = queue;
            _resume = Resume;
        }

        /// <summary>Runs <paramref name="request"/> on the thread pool, then the queue's next ones. Without the caller's execution context: an activity current there is no parent of requests.</summary>
        public void Start(RpcRequest request)
        {
            _first = request;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        public void Execute()
        {
            var request = _first;
            _first = null;
            Run(request);
        }

        private void Run(RpcRequest? request)
        {
            for (; request is not null; request = _queue.Next(this))
            {
                // ProcessAsync never throws: it answers every request, or finds its connection gone.
                var running = request.Session!.ProcessAsync(request).ConfigureAwait(false).GetAwaiter();
                if (!running.IsCompleted)
                {
                    _running = running;
                    running.UnsafeOnCompleted(_resume);
                    return;
                }

                running.GetResult();
            }
        }

        private void Resume()
        {
            var running = _running;
            _running = default;
            running.GetResult();
            Run(_queue.Next(this));
        }
    }
}
