using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Lustre.Threading;

/// <summary>
/// The builder of an <c>async ValueTask&lt;TResult&gt;</c> method on the data path that must not allocate: like
/// <see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/>, an await that does not complete at once moves the state
/// machine into a box taken from a pool and given back when the caller reads the result; unlike it, the pool is not
/// tied to a thread or a core (see <see cref="PooledBox{TResult, TStateMachine}"/>), so a box taken on the caller's
/// thread and given back on a socket's completion thread is found again by the next call wherever it runs. As with
/// any pooled <see cref="ValueTask{TResult}"/>, the result may be awaited (or read) once only.
/// </summary>
/// <remarks>
/// The runtime's builder keeps one box per thread and one per core; a round trip that starts on one thread and ends
/// on another misses both caches as often as those threads run on different cores, and each miss allocates a box
/// (139–422 B per data RPC in the memory diagnoser's figures of 2026-12-04, 0–2 B the day before with the same code). Use it as <c>[AsyncMethodBuilder(typeof(PooledValueTaskBuilder&lt;&gt;))]</c>.
/// </remarks>
[StructLayout(LayoutKind.Auto)]
internal struct PooledValueTaskBuilder<TResult>
{
    // The box once an await did not complete at once (or the method threw); null while the method runs synchronously.
    private PooledBox<TResult>? _box;

    // The result of a method that finished without a box.
    private TResult _result;

    public static PooledValueTaskBuilder<TResult> Create() => default;

    /// <summary>The box, null while the method has run synchronously to its end.</summary>
    internal readonly PooledBox<TResult>? Box => _box;

    public readonly ValueTask<TResult> Task => _box is { } box ? new ValueTask<TResult>(box, box.Version) : new ValueTask<TResult>(_result);

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine =>
        // The runtime's Start (it saves and restores the thread's contexts around the first MoveNext); it keeps no state.
        default(AsyncValueTaskMethodBuilder<TResult>).Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => ArgumentNullException.ThrowIfNull(stateMachine);

    public void SetResult(TResult result)
    {
        if (_box is { } box)
        {
            box.SetResult(result);
        }
        else
        {
            _result = result;
        }
    }

    public void SetException(Exception exception) => (_box ??= new PooledBox<TResult>()).SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.OnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine =>
        awaiter.UnsafeOnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    /// <summary>The box the state machine runs in from its first incomplete await on, taken from the pool then.</summary>
    private PooledBox<TResult, TStateMachine> BoxFor<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var context = ExecutionContext.Capture();
        if (_box is PooledBox<TResult, TStateMachine> boxed)
        {
            boxed.Context = context;
            return boxed;
        }

        var box = PooledBox<TResult, TStateMachine>.Rent();

        // Set before the copy: this builder lives inside stateMachine, so the box's copy knows its box too.
        _box = box;
        box.StateMachine = stateMachine;
        box.Context = context;
        return box;
    }
}

/// <summary>The builder of an <c>async ValueTask</c> method: <see cref="PooledValueTaskBuilder{TResult}"/> without a result.</summary>
[StructLayout(LayoutKind.Auto)]
internal struct PooledValueTaskBuilder
{
    private PooledValueTaskBuilder<NoResult> _inner;

    public static PooledValueTaskBuilder Create() => default;

    public readonly ValueTask Task => _inner.Box is { } box ? new ValueTask(box, box.Version) : default;

    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => _inner.Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) => _inner.SetStateMachine(stateMachine);

    public void SetResult() => _inner.SetResult(default);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);

    internal readonly struct NoResult;
}
