namespace Lustre.Checkpoints;

/// <summary>
/// A byte budget shared by every save of one manager: staging a chunk takes its bytes, writing it returns them.
/// Waiters are served in order so a large save cannot starve behind a stream of small ones.
/// </summary>
internal sealed class StagingBudget
{
    private readonly Lock _lock = new();
    private readonly Queue<(long Bytes, TaskCompletionSource Waiter)> _waiters = new();
    private long _available;

    public StagingBudget(long capacity)
    {
        Capacity = capacity;
        _available = capacity;
    }

    public long Capacity { get; }

    public long Available
    {
        get
        {
            lock (_lock)
            {
                return _available;
            }
        }
    }

    public bool TryAcquire(long bytes)
    {
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                _available -= bytes;
                return true;
            }

            return false;
        }
    }

    public async Task AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                _available -= bytes;
                return;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue((bytes, waiter));
        }

        try
        {
            await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            lock (_lock)
            {
                if (waiter.Task.IsCompletedSuccessfully)
                {
                    // Granted just as we gave up: give it back.
                    _available += bytes;
                }
                else
                {
                    waiter.TrySetCanceled(cancellationToken);
                }

                Grant();
            }

            throw;
        }
    }

    public void Release(long bytes)
    {
        lock (_lock)
        {
            _available += bytes;
            Grant();
        }
    }

    private void Grant()
    {
        while (_waiters.TryPeek(out var head))
        {
            if (head.Waiter.Task.IsCompleted)
            {
                _waiters.Dequeue();
                continue;
            }

            if (head.Bytes > _available)
            {
                return;
            }

            _available -= head.Bytes;
            _waiters.Dequeue();
            head.Waiter.TrySetResult();
        }
    }
}
