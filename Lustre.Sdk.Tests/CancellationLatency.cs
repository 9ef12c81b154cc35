using System.Diagnostics;
using Xunit.Abstractions;

namespace Lustre.Tests;

/// <summary>
/// Cancels a running operation and measures the time from <see cref="CancellationTokenSource.CancelAsync"/> to the
/// operation throwing <see cref="OperationCanceledException"/>. The goal is 100 ms; the assertion allows
/// <see cref="Bound"/>, since the tests run on a loaded 2-core machine next to other test runs, and each measurement is
/// written to the test output so the real figures can be read (dotnet test --logger "console;verbosity=detailed").
/// </summary>
internal static class CancellationLatency
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Waits until <paramref name="running"/> holds (checked every millisecond or so, for at most 30 s), asserts the
    /// operation is still going, cancels, and asserts it throws within <see cref="Bound"/>. Returns the latency.
    /// </summary>
    public static async Task<TimeSpan> CancelAndMeasureAsync(Task operation, CancellationTokenSource cts, Func<bool> running, ITestOutputHelper output, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!running() && !operation.IsCompleted && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(1);
        }

        Assert.False(operation.IsCompleted, $"{what} finished before it could be cancelled ({operation.Status})");
        Assert.True(running(), $"{what} did not get going within 30 s");
        var waited = deadline.Elapsed;
        var timer = Stopwatch.StartNew();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => operation.WaitAsync(TimeSpan.FromSeconds(60)));
        var elapsed = timer.Elapsed;
        output.WriteLine($"{what}: Cancel() once it was going ({waited.TotalMilliseconds:F0} ms of waiting for that), threw {elapsed.TotalMilliseconds:F1} ms after Cancel()");
        Assert.True(elapsed < Bound, $"{what} took {elapsed.TotalMilliseconds:F0} ms to honour the cancellation");
        return elapsed;
    }
}
