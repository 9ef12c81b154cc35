using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>Checkpoints against the embedded 4-OST cluster: round trips, atomic commit under cancellation and failure, retention, multi-rank.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointManagerTests
{
    private static readonly TimeSpan Timeout = CheckpointTestData.TestTimeout;
    private readonly ClusterFixture _fixture;

    public CheckpointManagerTests(ClusterFixture fixture) => _fixture = fixture;

    /// <summary>The shared small options (many chunks, several files, budget waits in a few MiB) with a retention count.</summary>
    private static CheckpointManagerOptions SmallOptions(int keepLast = 0)
    {
        var options = CheckpointTestData.SmallOptions();
        options.KeepLast = keepLast;
        return options;
    }

    private static List<NamedTensor> State(int seed, int count = 4, int floats = 300_000) =>
        [.. Enumerable.Range(0, count).Select(i => Random($"layer{i}.weight", TensorDType.F32, [floats], seed * 100 + i))];

    private async Task<string[]> StagingLeftoversAsync(string root)
    {
        var staging = root + "/.staging";
        if (!await _fixture.Client.ExistsAsync(staging))
        {
            return [];
        }

        var names = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(staging))
        {
            names.Add(entry.Name);
        }

        return [.. names];
    }

    [Fact]
    public async Task Prepared_staging_is_what_the_first_save_copies_into_and_it_round_trips()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var options = new CheckpointManagerOptions { Rank = 0, WorldSize = 1, ChunkSize = 1 << 20, StagingBudget = 64L << 20 };
        await using var manager = new CheckpointManager(_fixture.Client, root, options);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => manager.PrepareStagingAsync(-1));

        // More than the budget asks for: the budget's 64 chunks are prepared, no more.
        await manager.PrepareStagingAsync(1L << 30);

        // Renting them again on this thread allocates nothing: they are in the pool, touched.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var chunks = Enumerable.Range(0, 64).Select(_ => manager.StagingPool.Rent(options.ChunkSize)).ToList();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        chunks.ForEach(chunk => manager.StagingPool.Return(chunk));
        Assert.True(allocated < options.ChunkSize, $"renting the prepared chunks allocated {allocated} bytes");

        var state = State(seed: 9, count: 3, floats: 1_000_000);
        var save = await manager.SaveAsync(1, state);
        await save.WaitForCompletionAsync().WaitAsync(Timeout);
        using var loaded = await manager.LoadAsync(1);
        Assert.All(state, t => Assert.True(t.Data.Span.SequenceEqual(loaded[t.Name].Data.Span), $"{t.Name} differs"));
    }

    [Fact]
    public async Task Every_dtype_scalar_empty_and_large_tensors_round_trip()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = new List<NamedTensor>();
        var seed = 1;
        foreach (var dtype in Enum.GetValues<TensorDType>())
        {
            tensors.Add(Random("t." + dtype.ToSafetensorsName(), dtype, [3, 5], seed++));
        }

        tensors.Add(Random("scalar", TensorDType.F64, [], seed++));
        tensors.Add(Random("empty", TensorDType.BF16, [0, 7], seed++));
        // Larger than MaxFileSize (4 MiB): gets a file of its own, written as 40 chunks.
        tensors.Add(Random("large", TensorDType.F32, [2560, 1024], seed++));
        tensors.Add(Random("tail", TensorDType.I64, [1000], seed));
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());

        var save = await manager.SaveAsync(42, tensors, new Dictionary<string, string> { ["model"] = "tiny", ["lr"] = "3e-4" });
        await save.WaitForCompletionAsync().WaitAsync(Timeout);

        Assert.Equal(CheckpointSaveStatus.Committed, save.Status);
        Assert.True(save.HasCompleted);
        Assert.Equal(tensors.Sum(t => (long)t.Data.Length), save.Bytes);
        Assert.NotNull(save.TotalTime);
        Assert.Equal([42L], await manager.ListStepsAsync());
        using var loaded = await manager.LoadAsync();
        Assert.Equal(42, loaded.Step);
        Assert.Equal("tiny", loaded.Metadata["model"]);
        AssertSame(tensors, loaded);
        Assert.Empty(await StagingLeftoversAsync(root));
    }

    [Fact]
    public async Task The_caller_may_overwrite_its_tensors_as_soon_as_SaveAsync_returns()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = State(seed: 3);
        var before = tensors.Select(t => t.Data.ToArray()).ToArray();
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());

        var save = await manager.SaveAsync(1, tensors);
        foreach (var tensor in tensors)
        {
            // The next training step scribbles over the weights while the save is still writing.
            System.Runtime.InteropServices.MemoryMarshal.AsMemory(tensor.Data).Span.Fill(0xEE);
        }

        await save.Completion.WaitAsync(Timeout);
        using var loaded = await manager.LoadAsync(1);
        for (var i = 0; i < tensors.Count; i++)
        {
            Assert.True(before[i].AsSpan().SequenceEqual(loaded[tensors[i].Name].Data.Span), $"tensor {i} holds the overwritten bytes");
        }
    }

    [Fact]
    public async Task A_save_cancelled_mid_write_leaves_the_previous_checkpoint_loadable_and_no_manifest()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var first = State(seed: 10);
        var options = SmallOptions();
        options.ChunkSize = 64 << 10;
        options.MaxConcurrency = 1;
        await using var manager = new CheckpointManager(_fixture.Client, root, options);
        await (await manager.SaveAsync(1, first)).Completion.WaitAsync(Timeout);

        using var cts = new CancellationTokenSource();
        var second = await manager.SaveAsync(2, State(seed: 11, count: 8), cancellationToken: cts.Token);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.Completion.WaitAsync(Timeout));
        Assert.Equal(CheckpointSaveStatus.Failed, second.Status);
        Assert.Equal([1L], await manager.ListStepsAsync());
        Assert.False(await _fixture.Client.ExistsAsync(root + "/step-00000002"));
        Assert.Empty(await StagingLeftoversAsync(root));
        using var loaded = await manager.LoadAsync();
        Assert.Equal(1, loaded.Step);
        AssertSame(first, loaded);
    }

    [Fact]
    public async Task A_save_whose_OST_fails_mid_write_fails_and_leaves_the_previous_checkpoint_loadable()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var first = State(seed: 20);
        await using (var healthy = new CheckpointManager(_fixture.Client, root, SmallOptions()))
        {
            await (await healthy.SaveAsync(1, first)).Completion.WaitAsync(Timeout);
        }

        await using var client = _fixture.ClientWithFaultyOst2(new LustreException("connection lost", LustreErrno.ENOTCONN, isTransient: true));
        await using var manager = new CheckpointManager(client, root, SmallOptions());

        var second = await manager.SaveAsync(2, State(seed: 21));

        var error = await Assert.ThrowsAnyAsync<IOException>(() => second.Completion.WaitAsync(Timeout));
        Assert.Contains("OST0002", error.Message, StringComparison.Ordinal);
        Assert.Equal(CheckpointSaveStatus.Failed, second.Status);
        Assert.Same(error, second.Exception);
        Assert.Equal([1L], await manager.ListStepsAsync());
        Assert.Empty(await StagingLeftoversAsync(root));
        using var loaded = await manager.LoadAsync();
        AssertSame(first, loaded);
    }

    [Fact]
    public async Task Retention_keeps_exactly_the_last_N()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(keepLast: 2));
        for (var step = 1; step <= 5; step++)
        {
            var save = await manager.SaveAsync(step * 100, State(seed: step, count: 1, floats: 1000));
            await save.Completion.WaitAsync(Timeout);
            Assert.Equal(Math.Min(step, 2), (await manager.ListStepsAsync()).Count);
        }

        Assert.Equal([400L, 500L], await manager.ListStepsAsync());
        using var loaded = await manager.LoadAsync(400);
        AssertSame(State(seed: 4, count: 1, floats: 1000), loaded);
        await Assert.ThrowsAsync<FileNotFoundException>(() => manager.LoadAsync(300));
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(root + "/.trash"))
        {
            Assert.Fail($"retention left {entry.Path} behind");
        }
    }

    [Fact]
    public async Task A_multi_rank_save_with_world_size_4_commits_once_with_every_ranks_files()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var runId = "run-" + Guid.NewGuid().ToString("N");
        var managers = Enumerable.Range(0, 4).Select(rank =>
        {
            var options = SmallOptions();
            (options.Rank, options.WorldSize, options.RunId) = (rank, 4, runId);
            return new CheckpointManager(_fixture.Client, root, options);
        }).ToArray();
        var shards = Enumerable.Range(0, 4).Select(rank => State(seed: 30 + rank, count: 2).Select(t => new NamedTensor($"rank{rank}.{t.Name}", t.DType, [.. t.Shape], t.Data)).ToList()).ToArray();

        // Rank 0 starts last, so the others' markers are waiting for it (and it for them, in the other order, by the next step).
        var saves = new List<CheckpointSaveOperation>();
        for (var rank = 3; rank >= 0; rank--)
        {
            saves.Add(await managers[rank].SaveAsync(7, shards[rank], new Dictionary<string, string> { ["from"] = $"rank{rank}" }));
        }

        await Task.WhenAll(saves.Select(s => s.Completion)).WaitAsync(Timeout);
        Assert.All(saves, s => Assert.Equal(CheckpointSaveStatus.Committed, s.Status));
        Assert.Equal([7L], await managers[2].ListStepsAsync());
        Assert.Empty(await StagingLeftoversAsync(root));

        using var loaded = await managers[3].LoadAsync();
        AssertSame([.. shards.SelectMany(s => s)], loaded);
        Assert.Equal("rank0", loaded.Metadata["from"]);
        var files = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(root + "/step-00000007"))
        {
            files.Add(entry.Name);
        }

        // One manifest, each rank's data file, and the barrier markers of ranks 1 to 3.
        Assert.Equal(
            ["manifest.json", "rank00000-00000.safetensors", "rank00001-00000.safetensors", "rank00001.done", "rank00002-00000.safetensors", "rank00002.done", "rank00003-00000.safetensors", "rank00003.done"],
            files.Order(StringComparer.Ordinal));
        foreach (var manager in managers)
        {
            await manager.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_corrupted_data_file_fails_the_load_naming_the_file_and_chunk()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        await (await manager.SaveAsync(5, State(seed: 40, count: 1))).Completion.WaitAsync(Timeout);
        var path = root + "/step-00000005/rank00000-00000.safetensors";
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open))
        {
            await file.WriteAtAsync(700_000, new byte[] { 0x55 });
        }

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => manager.LoadAsync(5));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("checksum mismatch in chunk 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_save_bigger_than_the_staging_budget_streams_through_it()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var options = SmallOptions();
        options.StagingBudget = 2 * options.ChunkSize;
        await using var manager = new CheckpointManager(_fixture.Client, root, options);
        var tensors = State(seed: 50);

        var save = await manager.SaveAsync(1, tensors);
        await save.Completion.WaitAsync(Timeout);

        using var loaded = await manager.LoadAsync();
        AssertSame(tensors, loaded);
        Assert.Equal(options.StagingBudget, manager.Staging.Available);
    }

    [Fact]
    public async Task Saving_a_committed_step_again_fails_and_keeps_the_committed_one()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        var first = State(seed: 60, count: 1);
        await (await manager.SaveAsync(9, first)).Completion.WaitAsync(Timeout);

        var again = await manager.SaveAsync(9, State(seed: 61, count: 1));

        var error = await Assert.ThrowsAsync<IOException>(() => again.Completion.WaitAsync(Timeout));
        Assert.Contains("already committed", error.Message, StringComparison.Ordinal);
        using var loaded = await manager.LoadAsync(9);
        AssertSame(first, loaded);
    }

    [Fact]
    public async Task Load_without_any_checkpoint_says_so()
    {
        var root = await _fixture.NewDirectoryAsync() + "/none";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        Assert.Null(await manager.GetLatestStepAsync());
        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => manager.LoadAsync());
        Assert.Contains("no committed checkpoint", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_are_validated_with_messages_that_name_the_option()
    {
        Assert.Equal("RunId", Assert.Throws<ArgumentException>(() => new CheckpointManager(_fixture.Client, "/x", new CheckpointManagerOptions { Rank = 1, WorldSize = 2, RunId = null })).ParamName);
        Assert.Equal("Rank", Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointManager(_fixture.Client, "/x", new CheckpointManagerOptions { Rank = 2, WorldSize = 2, RunId = "r" })).ParamName);
        Assert.Equal("ChunkSize", Assert.Throws<ArgumentException>(() => new CheckpointManager(_fixture.Client, "/x", new CheckpointManagerOptions { ChunkSize = 100_000 })).ParamName);
        Assert.Equal("StagingBudget", Assert.Throws<ArgumentOutOfRangeException>(() => new CheckpointManager(_fixture.Client, "/x", new CheckpointManagerOptions { StagingBudget = 1 })).ParamName);
    }
}
