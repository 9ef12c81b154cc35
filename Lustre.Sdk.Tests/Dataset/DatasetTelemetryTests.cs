using System.Diagnostics;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Tests.Cluster;
using Lustre.Tests.Diagnostics;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging;

namespace Lustre.Tests.Dataset;

/// <summary>Dataset epochs as an operator sees them: a span per epoch, metrics and log events.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DatasetTelemetryTests(ClusterFixture fixture) : IAsyncLifetime
{
    private const int SampleCount = 300;
    private readonly CapturingLoggerProvider _log = new();
    private ILoggerFactory? _loggers;
    private LustreClient? _client;

    private LustreClient Client => _client!;

    public Task InitializeAsync()
    {
        _loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(_log));
        _client = new LustreClient(fixture.Address, new LustreClientOptions { LoggerFactory = _loggers });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Client.DisposeAsync();
        _loggers!.Dispose();
        _log.Dispose();
    }

    [Fact]
    public async Task An_epoch_has_a_span_with_its_reads_as_children_metrics_and_log_events()
    {
        var dir = await WriteDatasetAsync();
        await using var dataset = await LustreDataset.OpenAsync(Client, dir, new LustreDatasetOptions { Seed = 3, PrefetchWindow = 50 });
        using var recorder = new TelemetryRecorder(); // after the open, whose index reads belong to no epoch

        var read = 0;
        await foreach (var sample in dataset.ReadAsync())
        {
            sample.Dispose();
            read++;
        }

        var epoch = Assert.Single(recorder.Spans("lustre.dataset.epoch", dir));
        Assert.Equal(ActivityStatusCode.Unset, epoch.Status);
        Assert.Equal(0, epoch.GetTagItem("lustre.dataset.epoch"));
        Assert.Equal((long)SampleCount, epoch.GetTagItem("lustre.dataset.samples"));
        Assert.Equal(dataset.Statistics.BytesRead, epoch.GetTagItem("lustre.dataset.bytes"));
        Assert.Equal(dataset.Statistics.StallTime.TotalSeconds, (double)epoch.GetTagItem("lustre.dataset.stall")!, 6);
        var fill = (double)epoch.GetTagItem("lustre.dataset.prefetch.fill")!;
        Assert.InRange(fill, double.Epsilon, 1);
        var reads = recorder.Spans("lustre.read_batch", dir);
        Assert.NotEmpty(reads);
        Assert.All(reads, r => Assert.Equal(epoch.SpanId, r.ParentSpanId));

        Assert.NotEmpty(recorder.Values("lustre.dataset.epochs"));
        Assert.NotEmpty(recorder.Values("lustre.dataset.epoch.duration"));
        var fills = recorder.Values("lustre.dataset.prefetch.fill");
        Assert.NotEmpty(fills);
        Assert.All(fills, f => Assert.InRange(f, 0, 1));

        Assert.Equal(SampleCount, read);
        var text = _log.Text;
        Assert.Contains("Lustre.Sdk.Dataset[1200] dataset opened: 2 shards, 300 samples, rank 0 of 1", text, StringComparison.Ordinal);
        Assert.Contains("Lustre.Sdk.Dataset[1201] dataset epoch 0 rank 0: reading 300 samples from position 0", text, StringComparison.Ordinal);
        Assert.Contains($"Information Lustre.Sdk.Dataset[1202] dataset epoch 0 rank 0: 300 samples, {dataset.Statistics.BytesRead} bytes in", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_epoch_the_consumer_leaves_early_ends_its_span_with_what_was_read()
    {
        var dir = await WriteDatasetAsync();
        using var recorder = new TelemetryRecorder();
        await using var dataset = await LustreDataset.OpenAsync(Client, dir, new LustreDatasetOptions { PrefetchWindow = 50 });

        var taken = 0;
        await foreach (var sample in dataset.ReadAsync())
        {
            sample.Dispose();
            if (++taken == 10)
            {
                break;
            }
        }

        var epoch = Assert.Single(recorder.Spans("lustre.dataset.epoch", dir));
        Assert.Equal(ActivityStatusCode.Unset, epoch.Status);
        Assert.Equal(10L, epoch.GetTagItem("lustre.dataset.samples"));
        Assert.Contains("Lustre.Sdk.Dataset[1203] dataset epoch 0 rank 0: stopped after 10 of 300 samples (the consumer stopped); the next read goes on with the 290 left", _log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_epoch_that_fails_sets_an_error_span_with_the_exception_and_logs_it()
    {
        var dir = await fixture.NewDirectoryAsync();
        var path = await DatasetTestData.UploadAsync(Client, dir, "corrupt-data.tfrecord");
        using var recorder = new TelemetryRecorder();
        await using var dataset = await LustreDataset.OpenAsync(Client, path, new LustreDatasetOptions { Shuffle = DatasetShuffle.None });

        var error = await Assert.ThrowsAsync<DatasetFormatException>(async () =>
        {
            await foreach (var sample in dataset.ReadAsync())
            {
                sample.Dispose();
            }
        });

        var epoch = Assert.Single(recorder.Spans("lustre.dataset.epoch", dir));
        Assert.Equal(ActivityStatusCode.Error, epoch.Status);
        TelemetryRecorder.AssertException(epoch, error);
        Assert.Contains("Error Lustre.Sdk.Dataset[1204] dataset epoch 0 rank 0: failed after", _log.Text, StringComparison.Ordinal);
        Assert.Contains("TFRecord data CRC mismatch", _log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_epoch_sets_an_error_span_and_logs_that_it_stopped()
    {
        var dir = await WriteDatasetAsync();
        using var recorder = new TelemetryRecorder();
        // A 64 KiB budget keeps the reads a fifth of the epoch ahead at most, so the cancellation lands mid-epoch.
        await using var dataset = await LustreDataset.OpenAsync(Client, dir, new LustreDatasetOptions { PrefetchBudget = 64 << 10 });
        using var cts = new CancellationTokenSource();

        var taken = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var sample in dataset.ReadAsync(cts.Token))
            {
                sample.Dispose();
                if (++taken == 5)
                {
                    await cts.CancelAsync();
                }
            }
        });

        var epoch = Assert.Single(recorder.Spans("lustre.dataset.epoch", dir));
        Assert.Equal(ActivityStatusCode.Error, epoch.Status);
        Assert.Contains(epoch.Events, e => e.Name == "exception");
        Assert.True(dataset.RemainingInEpoch > 0, "the epoch was cut short");
        Assert.Contains($"Lustre.Sdk.Dataset[1203] dataset epoch 0 rank 0: stopped after {dataset.Statistics.SamplesRead} of 300 samples (cancelled); the next read goes on with the {dataset.RemainingInEpoch} left", _log.Text, StringComparison.Ordinal);
    }

    /// <summary>300 samples of 1 to 2000 bytes in 2 indexed shards.</summary>
    private async Task<string> WriteDatasetAsync()
    {
        var dir = await fixture.NewDirectoryAsync() + "/data";
        await using var writer = await DatasetWriter.CreateAsync(Client, dir, new DatasetWriterOptions { TargetShardSize = 200_000 });
        for (var i = 0; i < SampleCount; i++)
        {
            var bytes = new byte[1 + (i * 7919 % 2000)];
            new Random(i).NextBytes(bytes);
            await writer.WriteAsync("k" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), [new DatasetField("a", bytes)]);
        }

        await writer.CompleteAsync();
        Assert.Equal(2, writer.Shards.Count);
        return dir;
    }
}
