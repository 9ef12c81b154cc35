namespace Lustre.Server.Rpc;

/// <summary>
/// Runs a call that blocks in the kernel for long — an fsync of a large object, a truncate that frees (and on a
/// <c>discard</c> mount, trims) many blocks, an MDT checkpoint — on a thread of its own. On the thread
/// pool such a call takes one of as few threads as there are cores (two here) for its whole length, and every
/// other request of the server, of any target, waits for the rest: measured, cached 4 KiB reads stalled for the
/// whole 300 ms fsync of 1 GiB in three runs of four. These calls are rare (once per object per flush or punch),
/// so a thread each costs far less than the call.
/// </summary>
internal static class BlockingCall
{
    public static Task RunAsync<TState>(Action<TState> call, TState state) =>
        Task.Factory.StartNew(
            static boxed =>
            {
                var (call, state) = ((Action<TState>, TState))boxed!;
                call(state);
            },
            (call, state),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

    public static Task<TResult> RunAsync<TState, TResult>(Func<TState, TResult> call, TState state) =>
        Task.Factory.StartNew(
            static boxed =>
            {
                var (call, state) = ((Func<TState, TResult>, TState))boxed!;
                return call(state);
            },
            (call, state),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
}
