using System.Diagnostics;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Tests.Cluster;
using Lustre.Tests.Diagnostics;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>Checkpoint saves and loads as an operator sees them: spans, metrics and log events.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointTelemetryTests(ClusterFixture fixture)
{
    private static List<NamedTensor> State(int seed) =>
        [Random("layer0.weight", TensorDType.F32, [100_000], seed), Random("layer1.bias", TensorDType.BF16, [3, 1000], seed + 1)];

    [Fact]
    public async Task A_save_and_a_load_report_their_bytes_times_spans_and_log_events()
    {
        using var recorder = new TelemetryRecorder();
        using var log = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(log));
        await using var client = new LustreClient(fixture.Address, new LustreClientOptions { LoggerFactory = loggers });
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(client, root, SmallOptions());

        var save = await manager.SaveAsync(5, State(seed: 1));
        await save.Completion.WaitAsync(TestTimeout);
        using var loaded = await manager.LoadAsync();

        var span = Assert.Single(recorder.Spans("lustre.checkpoint.save", root));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
        Assert.Equal(5L, span.GetTagItem("lustre.checkpoint.step"));
        Assert.Equal(save.Bytes, span.GetTagItem("lustre.checkpoint.bytes"));
        Assert.Equal(["staged", "durable"], span.Events.Select(e => e.Name));
        // The span lasts until the commit, so it holds the background writes, which are its children.
        var writes = recorder.Spans("lustre.write", root);
        Assert.NotEmpty(writes);
        Assert.All(writes, w => Assert.Equal(span.TraceId, w.TraceId));
        Assert.Contains(writes, w => w.ParentSpanId == span.SpanId);
        Assert.True(span.Duration >= save.StagingTime, $"span {span.Duration} < staging {save.StagingTime}");

        var load = Assert.Single(recorder.Spans("lustre.checkpoint.load", root));
        Assert.Equal(ActivityStatusCode.Unset, load.Status);
        Assert.Equal(5L, load.GetTagItem("lustre.checkpoint.step"));
        Assert.Equal(loaded.Bytes, load.GetTagItem("lustre.checkpoint.bytes"));

        Assert.Contains(save.Bytes, recorder.Values("lustre.checkpoint.bytes", "lustre.direction", "save"));
        Assert.Contains(loaded.Bytes, recorder.Values("lustre.checkpoint.bytes", "lustre.direction", "load"));
        Assert.Contains(save.StagingTime.TotalSeconds, recorder.Values("lustre.checkpoint.save.blocked.duration"));
        Assert.Contains(recorder.Values("lustre.checkpoint.save.commit.duration"), s => s >= save.StagingTime.TotalSeconds);
        Assert.NotEmpty(recorder.Values("lustre.checkpoint.load.duration"));

        var text = log.Text;
        Assert.Contains($"Lustre.Sdk.Checkpoints[1100] checkpoint step 5 rank 0: {save.Bytes} bytes staged", text, StringComparison.Ordinal);
        Assert.Contains($"Lustre.Sdk.Checkpoints[1101] checkpoint step 5 rank 0: {save.Bytes} bytes committed at {root}/step-00000005", text, StringComparison.Ordinal);
        Assert.Contains($"Lustre.Sdk.Checkpoints[1104] checkpoint step 5 loaded from {root}: 2 tensors, {loaded.Bytes} bytes", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_save_and_a_failed_load_set_error_spans_with_the_exception_and_log_it()
    {
        using var recorder = new TelemetryRecorder();
        using var log = new CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(log));
        await using var client = new LustreClient(fixture.Address, new LustreClientOptions { LoggerFactory = loggers });
        var root = await fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(client, root, SmallOptions());
        await (await manager.SaveAsync(9, State(seed: 2))).Completion.WaitAsync(TestTimeout);

        var again = await manager.SaveAsync(9, State(seed: 3));
        var saveError = await Assert.ThrowsAsync<IOException>(() => again.Completion.WaitAsync(TestTimeout));
        var loadError = await Assert.ThrowsAsync<FileNotFoundException>(() => manager.LoadAsync(12));

        var saves = recorder.Spans("lustre.checkpoint.save", root);
        Assert.Equal(2, saves.Count);
        var failed = Assert.Single(saves, s => s.Status == ActivityStatusCode.Error);
        Assert.Equal(saveError.Message, failed.StatusDescription);
        TelemetryRecorder.AssertException(failed, saveError);
        var load = Assert.Single(recorder.Spans("lustre.checkpoint.load", root));
        Assert.Equal(ActivityStatusCode.Error, load.Status);
        TelemetryRecorder.AssertException(load, loadError);

        Assert.NotEmpty(recorder.Values("lustre.checkpoint.failures", "lustre.operation", "save"));
        Assert.NotEmpty(recorder.Values("lustre.checkpoint.failures", "lustre.operation", "load"));
        var text = log.Text;
        Assert.Contains("Error Lustre.Sdk.Checkpoints[1102] checkpoint step 9 rank 0: the save failed", text, StringComparison.Ordinal);
        Assert.Contains(saveError.Message, text, StringComparison.Ordinal);
        Assert.Contains($"Error Lustre.Sdk.Checkpoints[1105] checkpoint load of 12 from {root} failed", text, StringComparison.Ordinal);
    }
}
