using Lustre.Server.Rpc;
using Xunit;

namespace Lustre.Sdk.Tests.Rpc;

/// <summary>
/// The server's own threads for calls that block in the kernel (fsync, truncate, checkpoint): reused from call to
/// call, as many at once as are asked for up to the cap, and a failure goes back to its caller. The threads are
/// shared by the whole process, so other tests' fsyncs may run on them meanwhile; the bounds below leave room for that.
/// </summary>
public sealed class BlockingCallTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Calls_one_after_another_reuse_the_same_few_threads()
    {
        var threads = new HashSet<int>();
        for (var i = 0; i < 200; i++)
        {
            threads.Add(await BlockingCall.RunAsync(static _ => Environment.CurrentManagedThreadId, 0));
        }

        // A thread per call would show 200; other tests' calls in between may borrow a few more.
        Assert.InRange(threads.Count, 1, 32);
    }

    [Fact]
    public async Task Calls_that_wait_for_each_other_all_run_at_once()
    {
        // Each call blocks until all eight have arrived: they finish only if eight threads serve them together.
        using var barrier = new Barrier(8);
        var calls = Enumerable.Range(0, 8)
            .Select(_ => BlockingCall.RunAsync(static b => b.SignalAndWait(Patience), barrier))
            .ToArray();

        var arrived = await Task.WhenAll(calls).WaitAsync(Patience);

        Assert.All(arrived, Assert.True);
    }

    [Fact]
    public async Task Past_the_cap_a_call_waits_for_a_thread_to_come_free()
    {
        using var release = new ManualResetEventSlim();
        var blocked = Enumerable.Range(0, BlockingCall.MaxThreads)
            .Select(_ => BlockingCall.RunAsync(static r => r.Wait(Patience), release))
            .ToArray();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var extra = BlockingCall.RunAsync(static s => s.TrySetResult(), started);
        try
        {
            // Queued behind the cap's worth of blocked calls, all posted before it: it cannot start until they end.
            await Task.Delay(200);
            Assert.False(started.Task.IsCompleted);
            Assert.InRange(BlockingCall.ThreadCount, 1, BlockingCall.MaxThreads);
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
        var ex = await Assert.ThrowsAsync<IOException>(() => BlockingCall.RunAsync(static (string m) => throw new IOException(m), "disk gone"));
        Assert.Equal("disk gone", ex.Message);

        Assert.Equal(42, await BlockingCall.RunAsync(static x => x * 2, 21));
    }
}
