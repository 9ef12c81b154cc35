using Lustre.Server.Rpc;
using Xunit;

namespace Lustre.Sdk.Tests.Rpc;

/// <summary>
/// The server's own threads for calls that block in the kernel (fsync, truncate, checkpoint): reused from call to
/// call, as many at once as are asked for up to the cap, and a failure goes back to its caller. Each test has a pool of
/// its own, so it neither borrows nor blocks the threads the servers of other tests use.
/// </summary>
public sealed class BlockingCallTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static BlockingCall Pool(int maxThreads) => new(maxThreads, TimeSpan.FromSeconds(1));

    [Fact]
    public async Task Calls_one_after_another_reuse_the_same_few_threads()
    {
        var pool = Pool(BlockingCall.MaxThreads);
        var threads = new HashSet<int>();
        for (var i = 0; i < 200; i++)
        {
            threads.Add(await pool.Run(static _ => Environment.CurrentManagedThreadId, 0));
        }

        // A thread per call would show 200: a thread is back among the waiting before its caller hears, so one serves all.
        Assert.Single(threads);
        Assert.Equal(1, pool.ThreadCount);
    }

    [Fact]
    public async Task Calls_that_wait_for_each_other_all_run_at_once()
    {
        // Each call blocks until all eight have arrived: they finish only if eight threads serve them together.
        var pool = Pool(8);
        using var barrier = new Barrier(8);
        var calls = Enumerable.Range(0, 8)
            .Select(_ => pool.Run(static b => b.SignalAndWait(Patience), barrier).AsTask())
            .ToArray();

        var arrived = await Task.WhenAll(calls).WaitAsync(Patience);

        Assert.All(arrived, Assert.True);
    }

    [Fact]
    public async Task Past_the_cap_a_call_waits_for_a_thread_to_come_free()
    {
        const int cap = 4;
        var pool = Pool(cap);
        using var release = new ManualResetEventSlim();
        var blocked = Enumerable.Range(0, cap)
            .Select(_ => pool.Run(static r => r.Wait(Patience), release).AsTask())
            .ToArray();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var extra = pool.Run(static s => s.TrySetResult(), started).AsTask();
        try
        {
            // Queued behind the cap's worth of blocked calls, all posted before it: it cannot start until they end.
            await Task.Delay(200);
            Assert.False(started.Task.IsCompleted);
            Assert.Equal(cap, pool.ThreadCount);
        }
        finally
        {
            release.Set();
        }

        await extra.WaitAsync(Patience);
        Assert.All(await Task.WhenAll(blocked).WaitAsync(Patience), Assert.True);
        Assert.True(started.Task.IsCompleted);
    }

    [Fact]
    public async Task A_failure_reaches_the_caller_and_the_thread_serves_the_next_call()
    {
        var pool = Pool(1);
        var ex = await Assert.ThrowsAsync<IOException>(() => pool.Run(static (string m) => throw new IOException(m), "disk gone").AsTask());
        Assert.Equal("disk gone", ex.Message);

        Assert.Equal(42, await pool.Run(static x => x * 2, 21));
        Assert.Equal(1, pool.ThreadCount);
    }

    [Fact]
    public async Task Calls_without_a_result_run_off_the_callers_thread_and_their_pooled_records_keep_no_state_between_calls()
    {
        var pool = Pool(2);
        var caller = Environment.CurrentManagedThreadId;
        var ran = new int[1];
        await pool.Run(static r => { r[0] = Environment.CurrentManagedThreadId; }, ran);
        Assert.NotEqual(caller, ran[0]);

        // The state goes with its call, whatever record carries it: no call sees another's.
        var seen = new int[64];
        await Task.WhenAll(Enumerable.Range(0, seen.Length).Select(i => pool.Run(static s => { s.Seen[s.I] = s.I + 1; }, (Seen: seen, I: i)).AsTask()));
        Assert.Equal(Enumerable.Range(1, seen.Length), seen);
    }
}
