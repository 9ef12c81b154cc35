using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Lustre.Threading;

/// <summary>
/// What a <see cref="PooledValueTaskBuilder{TResult}"/> method's <see cref="ValueTask{TResult}"/> stands on: the
/// result or exception once the method ends. This base is used alone, unpooled, only by a method that threw before its
/// first incomplete await; <see cref="PooledBox{TResult, TStateMachine}"/> also runs the state machine and is pooled.
/// </summary>
internal class PooledBox<TResult> : IValueTaskSource<TResult>, IValueTaskSource
{
    // Continuations run where the result is set, as the runtime's builders do.
    private ManualResetValueTaskSourceCore<TResult> _core;

    public short Version => _core.Version;

    public void SetResult(TResult result) => _core.SetResult(result);

    public void SetException(Exception exception) => _core.SetException(exception);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public TResult GetResult(short token)
    {
        if (token != _core.Version)
        {
            // A result read a second time: the core refuses the stale token, and the box, which may already serve
            // another call, must not go back to the pool twice.
            return _core.GetResult(token);
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    /// <summary>Called once the result has been read: the box is free for another call from then on.</summary>
    protected virtual void Recycle()
    {
    }

    /// <summary>Makes the box ready for its next call (a new version, so a stale token is refused).</summary>
    protected void Reset() => _core.Reset();
}

/// <summary>
/// A box that runs one async method's state machine from its first incomplete await to its end, pooled per method.
/// The pool is a thread's one-box cache and then a small array shared by all threads, searched whole: a box given back
/// on one thread is found by a call starting on any other (the runtime's per-core cache looks at one slot only).
/// </summary>
internal sealed class PooledBox<TResult, TStateMachine> : PooledBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    /// <summary>
    /// Boxes kept per method beyond the threads' own: as many as the calls of one method a busy process has in flight at
    /// once (a striped 4 MiB read by 8 tasks over 4 OSTs holds 32 of each server-side method), so that a burst's boxes
    /// come back for the next one instead of being dropped. A box holds one state machine, a few hundred bytes.
    /// </summary>
    private static readonly int SharedSlots = Math.Max(64, 8 * Environment.ProcessorCount);

    private static readonly PooledBox<TResult, TStateMachine>?[] s_shared = new PooledBox<TResult, TStateMachine>?[SharedSlots];

    private static readonly ContextCallback s_moveNext = static box => ((PooledBox<TResult, TStateMachine>)box!).StateMachine.MoveNext();

    [ThreadStatic]
    private static PooledBox<TResult, TStateMachine>? t_cached;

    private Action? _moveNext;

    /// <summary>The method's state machine, moved here at its first incomplete await.</summary>
    public TStateMachine StateMachine = default!;

    /// <summary>The execution context captured at the last await, which the method goes on in; null when flow was suppressed.</summary>
    public ExecutionContext? Context;

    /// <summary>The continuation an await is given: made once per box, and the box lives on in the pool.</summary>
    public Action MoveNextAction => _moveNext ??= MoveNext;

    public static PooledBox<TResult, TStateMachine> Rent()
    {
        var box = t_cached;
        if (box is not null)
        {
            t_cached = null;
            return box;
        }

        var shared = s_shared;
        var start = Thread.GetCurrentProcessorId();
        for (var i = 0; i < shared.Length; i++)
        {
            ref var slot = ref shared[(start + i) % shared.Length];
            if (Volatile.Read(ref slot) is { } found && Interlocked.CompareExchange(ref slot, null, found) == found)
            {
                return found;
            }
        }

        return new PooledBox<TResult, TStateMachine>();
    }

    private void MoveNext()
    {
        if (Context is { } context)
        {
            ExecutionContext.Run(context, s_moveNext, this);
        }
        else
        {
            StateMachine.MoveNext();
        }
    }

    protected override void Recycle()
    {
        StateMachine = default!;
        Context = null;
        Reset();
        if (t_cached is null)
        {
            t_cached = this;
            return;
        }

        var shared = s_shared;
        var start = Thread.GetCurrentProcessorId();
        for (var i = 0; i < shared.Length; i++)
        {
            ref var slot = ref shared[(start + i) % shared.Length];
            if (Volatile.Read(ref slot) is null && Interlocked.CompareExchange(ref slot, this, null) is null)
            {
                return;
            }
        }

        // The pool is full: this box is left to the collector.
    }
}
