using System.Diagnostics;
using Lustre.Checkpoints;
using Lustre.Tests.Cluster;
using Xunit.Abstractions;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>
/// Cancelling checkpoint saves and loads: each stops promptly (see <see cref="CancellationLatency"/>), the previous
/// checkpoint stays the latest, nothing half written is left for "latest" or a later save of the same step to trip on,
/// and the staging memory is returned.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointCancellationTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TestTimeout;

    private static List<NamedTensor> State(int seed, int count, int floats) =>
        [.. Enumerable.Range(0, count).Select(i => Random($"layer{i}.weight", TensorDType.F32, [floats], (seed * 100) + i))];

    private async Task<bool> HasStagingLeftoversAsync(string root)
    {
        if (!await fixture.Client.ExistsAsync(root + "/.staging"))
        {
            return false;
        }

        await foreach (var entry in fixture.Client.EnumerateDirectoryAsync(root + "/.staging"))
        {
            return true;
        }

        return false;
    }

    /// <summary>After a cancelled save of <paramref name="step"/>: step 1 is still the latest, nothing is staged, and the step saves and loads whole.</summary>
    private async Task AssertCleanAndSavesAgainAsync(CheckpointManager manager, string root, long step, List<NamedTensor> first)
    {
        Assert.Equal([1L], await manager.ListStepsAsync());
        Assert.False(await HasStagingLeftoversAsync(root), "the cancelled save left staged files");
        Assert.Equal(0, manager.Staging.InUse);
        using (var latest = await manager.LoadAsync())
        {
            AssertSame(first, latest);
        }

        var again = State(seed: 9, count: 3, floats: 100_000);
        await (await manager.SaveAsync(step, again)).Completion.WaitAsync(Timeout);
        using var loaded = await manager.LoadAsync();
        Assert.Equal(step, loaded.Step);
        AssertSame(again, loaded);
    }

    [Fact]
    public async Task A_save_with_a_cancelled_token_throws_at_once_and_stages_nothing()
    {
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(fixture.Client, root, SmallOptions());
        var first = State(seed: 1, count: 2, floats: 10_000);
        await (await manager.SaveAsync(1, first)).Completion.WaitAsync(Timeout);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => manager.SaveAsync(2, State(seed: 2, count: 2, floats: 10_000), cancellationToken: cts.Token));

        await AssertCleanAndSavesAgainAsync(manager, root, 2, first);
    }

    [Fact]
    public async Task A_save_cancelled_while_staging_throws_promptly_and_returns_its_memory()
    {
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        var options = SmallOptions();

        // Two chunks of staging for 48 MiB: SaveAsync stages a chunk each time a written one frees its memory.
        options.StagingBudget = 2 * options.ChunkSize;
        options.MaxConcurrency = 2;
        await using var manager = new CheckpointManager(fixture.Client, root, options);
        var first = State(seed: 3, count: 2, floats: 10_000);
        await (await manager.SaveAsync(1, first)).Completion.WaitAsync(Timeout);

        using var cts = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var save = manager.SaveAsync(2, State(seed: 4, count: 12, floats: 1 << 20), cancellationToken: cts.Token);
        await CancellationLatency.CancelAndMeasureAsync(save, cts, () => started.ElapsedMilliseconds >= 30, output, "CheckpointManager.SaveAsync while staging 48 MiB");

        await AssertCleanAndSavesAgainAsync(manager, root, 2, first);
    }

    [Fact]
    public async Task A_save_cancelled_in_the_background_ends_promptly_and_the_step_saves_again()
    {
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        var options = SmallOptions();
        options.MaxConcurrency = 2;
        await using var manager = new CheckpointManager(fixture.Client, root, options);
        var first = State(seed: 5, count: 2, floats: 10_000);
        await (await manager.SaveAsync(1, first)).Completion.WaitAsync(Timeout);

        using var cts = new CancellationTokenSource();
        var save = await manager.SaveAsync(2, State(seed: 6, count: 12, floats: 1 << 20), cancellationToken: cts.Token);
        var started = Stopwatch.StartNew();
        await CancellationLatency.CancelAndMeasureAsync(save.Completion, cts, () => started.ElapsedMilliseconds >= 10, output, "a 48 MiB checkpoint save in the background");

        Assert.Equal(CheckpointSaveStatus.Failed, save.Status);
        await AssertCleanAndSavesAgainAsync(manager, root, 2, first);
    }

    [Fact]
    public async Task A_load_cancelled_mid_way_throws_promptly_and_loads_again()
    {
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        var options = SmallOptions();
        options.MaxConcurrency = 2;
        await using var manager = new CheckpointManager(fixture.Client, root, options);
        var state = State(seed: 7, count: 12, floats: 1 << 20);
        await (await manager.SaveAsync(1, state)).Completion.WaitAsync(Timeout);

        using (var cts = new CancellationTokenSource())
        {
            var started = Stopwatch.StartNew();
            var load = manager.LoadAsync(1, cts.Token);
            await CancellationLatency.CancelAndMeasureAsync(load, cts, () => started.ElapsedMilliseconds >= 5, output, "CheckpointManager.LoadAsync of 48 MiB");
        }

        var destinations = state.ToDictionary(t => t.Name, t => (Memory<byte>)new byte[t.Data.Length]);
        using (var cts = new CancellationTokenSource())
        {
            var started = Stopwatch.StartNew();
            var load = manager.LoadAsync(1, destinations, cts.Token);
            await CancellationLatency.CancelAndMeasureAsync(load, cts, () => started.ElapsedMilliseconds >= 5, output, "CheckpointManager.LoadAsync of 48 MiB into the caller's buffers");
        }

        using (var loaded = await manager.LoadAsync(1))
        {
            AssertSame(state, loaded);
        }

        using var into = await manager.LoadAsync(1, destinations);
        AssertSame(state, into);
    }

    [Fact]
    public async Task A_rank_cancelled_after_reporting_its_files_leaves_them_and_rank_0_commits_a_whole_checkpoint()
    {
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        var runId = "cancel-" + Guid.NewGuid().ToString("N");
        CheckpointManager Manager(int rank)
        {
            var options = SmallOptions();
            (options.Rank, options.WorldSize, options.RunId) = (rank, 2, runId);
            return new CheckpointManager(fixture.Client, root, options);
        }

        await using var rank0 = Manager(0);
        await using var rank1 = Manager(1);
        var part0 = State(seed: 8, count: 2, floats: 50_000).Select(t => new NamedTensor("r0." + t.Name, t.DType, [.. t.Shape], t.Data)).ToList();
        var part1 = State(seed: 9, count: 2, floats: 50_000).Select(t => new NamedTensor("r1." + t.Name, t.DType, [.. t.Shape], t.Data)).ToList();

        // Rank 1 reports its files and waits for rank 0's commit; cancelled then, it must not take its files back.
        using var cts = new CancellationTokenSource();
        var save1 = await rank1.SaveAsync(3, part1, cancellationToken: cts.Token);
        var marker = rank1.StagingPath(3) + "/rank00001.done";
        var reported = false;
        var probe = Task.Run(async () =>
        {
            while (!save1.HasCompleted && !(reported = await fixture.Client.ExistsAsync(marker)))
            {
                await Task.Delay(5);
            }
        });
        await CancellationLatency.CancelAndMeasureAsync(save1.Completion, cts, () => probe.IsCompleted && reported, output, "rank 1 waiting for rank 0's commit");

        var save0 = await rank0.SaveAsync(3, part0);
        await save0.Completion.WaitAsync(Timeout);
        Assert.Equal(CheckpointSaveStatus.Committed, save0.Status);
        using var loaded = await rank0.LoadAsync(3);
        AssertSame([.. part0, .. part1], loaded);
    }
}
