using System.Threading.Tasks.Sources;

namespace Lustre.Threading;

/// <summary>
/// The completion of a pooled <see cref="IValueTaskSource{TResult}"/> whose caller must go on on the thread pool, never
/// on the thread that completes it (a reader loop, the MDT's writer loop, a sender): the outcome is handed to the pool
/// as this object itself, an <see cref="IThreadPoolWorkItem"/>, which completes the core there. The core's own
/// <c>RunContinuationsAsynchronously</c> does the same but allocates a work item per completion. Made once per pooled
/// owner, which forwards <see cref="GetStatus"/>, <see cref="OnCompleted"/> and <see cref="GetResult"/> here. The one
/// exception is a completion marked inline: a server's held reply, whose caller is the rest of that request's own
/// processing and may go on on the sending thread.
/// </summary>
internal sealed class DeferredCompletion<TResult> : IThreadPoolWorkItem
{
    private ManualResetValueTaskSourceCore<TResult> _core;

    // The outcome between SetResult/SetException and the work item that completes the core with it.
    private TResult? _result;
    private Exception? _exception;

    public short Version => _core.Version;

    /// <summary>Completes on the pool, or here when <paramref name="inline"/> (a caller that may go on on this thread).</summary>
    public void SetResult(TResult result, bool inline = false)
    {
        _result = result;
        Complete(inline);
    }

    /// <summary>Fails on the pool, or here when <paramref name="inline"/>.</summary>
    public void SetException(Exception exception, bool inline = false)
    {
        _exception = exception;
        Complete(inline);
    }

    private void Complete(bool inline)
    {
        if (inline)
        {
            ((IThreadPoolWorkItem)this).Execute();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        if (_exception is { } exception)
        {
            _exception = null;
            _core.SetException(exception);
        }
        else
        {
            var result = _result!;
            _result = default;
            _core.SetResult(result);
        }
    }

    public TResult GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Ready for the owner's next use, with a new version (a stale token is refused).</summary>
    public void Reset() => _core.Reset();
}
