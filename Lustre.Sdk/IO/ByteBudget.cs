namespace Lustre.IO;

/// <summary>
/// An async, first-come first-served budget of bytes, so a large request cannot starve behind a stream of small
/// ones: the dataset prefetcher waits here until disposed samples give bytes back, and checkpoint staging until
/// written chunks do.
/// </summary>
internal sealed class ByteBudget
{
    private readonly Lock _lock = new();
    private readonly Queue<(long Bytes, TaskCompletionSource Waiter)> _waiters = new();
    private long _available;

    public ByteBudget(long capacity)
    {
        Capacity = capacity;
        _available = capacity;
    }

    public long Capacity { get; }

    public long Available => Volatile.Read(ref _available);

    public long InUse => Capacity - Available;

    /// <summary>Takes <paramref name="bytes"/> now if nobody is waiting and they are available.</summary>
    public bool TryAcquire(long bytes)
    {
        bytes = Math.Min(bytes, Capacity);
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

    /// <summary>Takes <paramref name="bytes"/> (at most the capacity, so one huge request still proceeds alone).</summary>
    public Task AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        bytes = Math.Min(bytes, Capacity);
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                _available -= bytes;
                return Task.CompletedTask;
            }

            waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Enqueue((bytes, waiter));
        }

        return cancellationToken.CanBeCanceled ? WaitAsync(waiter, bytes, cancellationToken) : waiter.Task;
    }

    private async Task WaitAsync(TaskCompletionSource waiter, long bytes, CancellationToken cancellationToken)
    {
        try
        {
            await waiter.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The grant may have raced the cancellation: give it back, or drop the queued request.
            lock (_lock)
            {
                if (!waiter.TrySetCanceled())
                {
                    _available += bytes;
                }
            }

            Grant();
            throw;
        }
    }

    public void Release(long bytes)
    {
        lock (_lock)
        {
            _available += Math.Min(bytes, Capacity);
        }

        Grant();
    }

    private void Grant()
    {
        lock (_lock)
        {
            while (_waiters.Count > 0)
            {
                var (bytes, waiter) = _waiters.Peek();
                if (waiter.Task.IsCompleted)
                {
                    _waiters.Dequeue();
                    continue;
                }

                if (_available < bytes)
                {
                    return;
                }

                _waiters.Dequeue();
                _available -= bytes;
                waiter.TrySetResult();
            }
        }
    }
}
