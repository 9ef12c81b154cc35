using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Client;
using Lustre.Diagnostics;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Server.Diagnostics;
using Lustre.Tests.Rpc;

namespace Lustre.Tests.Diagnostics;

/// <summary>
/// The servers' Meter and ActivitySource seen through real listeners while a real client talks to a real cluster:
/// a request's server span is the child of the client span that sent it, and the instruments record per opcode,
/// target and OST. Runs alone (<see cref="TimingCollection"/>) because listeners hear every server in the process.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class ServerDiagnosticsTests
{
    private const int StripeSize = 1 << 20;

    [Fact]
    public async Task A_traced_client_call_gets_a_child_span_on_the_server_and_the_instruments_record()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 });
        await using var client = new LustreClient(cluster.Address);
        var requests = new ConcurrentDictionary<(string Operation, string Target), long>();
        var durations = new ConcurrentBag<string>();
        var ioBytes = new ConcurrentDictionary<(string Target, string Direction), long>();
        var commitSizes = new ConcurrentBag<int>();
        var queueTargets = new ConcurrentBag<string>();
        var destroyQueueLengths = new ConcurrentBag<long>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ServerDiagnostics.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            switch (instrument.Name)
            {
                case "lustre.server.requests":
                    requests.AddOrUpdate((Tag(tags, "lustre.operation"), Tag(tags, "lustre.target")), value, (_, sum) => sum + value);
                    break;
                case "lustre.server.io.bytes":
                    ioBytes.AddOrUpdate((Tag(tags, "lustre.target"), Tag(tags, "lustre.direction")), value, (_, sum) => sum + value);
                    break;
                case "lustre.server.mds.destroy_queue.length" when Tag(tags, "lustre.server").Contains(cluster.Endpoint.ToString(), StringComparison.Ordinal):
                    destroyQueueLengths.Add(value);
                    break;
            }
        });
        meters.SetMeasurementEventCallback<double>((instrument, _, tags, _) =>
        {
            if (instrument.Name == "lustre.server.request.duration")
            {
                durations.Add(Tag(tags, "lustre.operation"));
            }
        });
        meters.SetMeasurementEventCallback<int>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "lustre.server.mds.commit.size")
            {
                commitSizes.Add(value);
            }
            else if (instrument.Name == "lustre.server.queue.depth" && Tag(tags, "lustre.server").Contains(cluster.Endpoint.ToString(), StringComparison.Ordinal))
            {
                queueTargets.Add(Tag(tags, "lustre.target"));
            }
        });
        meters.Start();

        var clientSpans = new ConcurrentDictionary<ActivitySpanId, Activity>();
        var serverSpans = new ConcurrentBag<Activity>();
        using var test = new ActivitySource("Lustre.Tests.ServerDiagnostics");
        using var tracing = new ActivityListener
        {
            ShouldListenTo = source => source.Name is ServerDiagnostics.Name or LustreDiagnostics.Name || source == test,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a =>
            {
                if (a.Source.Name == ServerDiagnostics.Name)
                {
                    serverSpans.Add(a);
                }
                else
                {
                    clientSpans[a.SpanId] = a;
                }
            },
        };
        ActivitySource.AddActivityListener(tracing);

        var data = new byte[2 * StripeSize];
        Random.Shared.NextBytes(data);
        ActivityTraceId traceId;
        using (var root = test.StartActivity("training step"))
        {
            Assert.NotNull(root);
            traceId = root.TraceId;
            await using var file = await client.OpenFileAsync("/traced", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(StripeSize, 2));
            await file.WriteAtAsync(0, data);
            await file.FlushAsync();
            var back = new byte[data.Length];
            Assert.Equal(data.Length, await file.ReadAtAsync(0, back));
            Assert.Equal(data, back);
        }

        // Outside the root: the client's own span of the call starts a trace, and the server's span joins it.
        await client.GetInfoAsync("/traced");
        meters.RecordObservableInstruments();
        meters.Dispose();
        ActivitySource.AddActivityListener(new ActivityListener());

        var writes = serverSpans.Where(s => s.OperationName == "lustre.server.OstWrite" && s.TraceId == traceId).ToList();
        Assert.NotEmpty(writes);
        Assert.All(writes, span =>
        {
            Assert.Equal(ActivityKind.Server, span.Kind);
            Assert.True(clientSpans.TryGetValue(span.ParentSpanId, out var parent), $"the parent {span.ParentSpanId} of a server span is no client span of this test");
            Assert.Equal(traceId, parent!.TraceId);
            Assert.Contains(span.GetTagItem("lustre.target") as string, new[] { "OST0000", "OST0001" });
        });
        Assert.Contains(serverSpans, s => s.OperationName == "lustre.server.OstRead" && s.TraceId == traceId);
        Assert.Contains(serverSpans, s => s.OperationName == "lustre.server.MdsGetAttr" && s.TraceId != traceId
            && clientSpans.TryGetValue(s.ParentSpanId, out var parent) && parent.OperationName == "lustre.MdsGetAttr");

        foreach (var ost in new[] { "OST0000", "OST0001" })
        {
            Assert.True(requests.GetValueOrDefault(("OstWrite", ost)) >= 1, $"no OstWrite counted on {ost}");
            Assert.True(ioBytes.GetValueOrDefault((ost, "write")) >= StripeSize, $"{ost} wrote {ioBytes.GetValueOrDefault((ost, "write"))} bytes");
            Assert.True(ioBytes.GetValueOrDefault((ost, "read")) >= StripeSize, $"{ost} read {ioBytes.GetValueOrDefault((ost, "read"))} bytes");
        }

        Assert.True(requests.GetValueOrDefault(("MdsOpen", "MDT0000")) >= 1, "no MdsOpen counted on MDT0000");
        Assert.Contains("OstWrite", durations);
        Assert.Contains("MdsGetAttr", durations);
        Assert.Contains(commitSizes, size => size >= 1);
        Assert.Contains("OST0000", queueTargets);
        Assert.Contains("OST0001", queueTargets);
        Assert.Contains("MDT0000", queueTargets);
        Assert.Contains("control", queueTargets);
        Assert.Equal([0L], destroyQueueLengths);
    }

    [Fact]
    public async Task Job_statistics_are_exported_through_the_meter_by_target_job_and_operation()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1 });
        var job = "metrics." + Guid.NewGuid().ToString("N")[..8];
        await using (var client = new LustreClient(cluster.Address, new LustreClientOptions { JobId = job }))
        await using (var file = await client.OpenFileAsync("/m", FileMode.CreateNew, layout: FileLayout.Raid0(StripeSize, 1)))
        {
            await file.WriteAtAsync(0, new byte[StripeSize]);
        }

        var operations = new ConcurrentDictionary<(string Target, string Operation), long>();
        var bytes = new ConcurrentDictionary<(string Target, string Direction), long>();
        var jobs = new ConcurrentDictionary<string, int>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ServerDiagnostics.Name && instrument.Name.StartsWith("lustre.server.job", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (Tag(tags, "lustre.job") != job)
            {
                return;
            }

            if (instrument.Name == "lustre.server.job.operations")
            {
                operations[(Tag(tags, "lustre.target"), Tag(tags, "lustre.operation"))] = value;
            }
            else if (instrument.Name == "lustre.server.job.bytes")
            {
                bytes[(Tag(tags, "lustre.target"), Tag(tags, "lustre.direction"))] = value;
            }
        });
        // Other clusters of the process report too: the largest count of a target name is at least this one's.
        meters.SetMeasurementEventCallback<int>((instrument, value, tags, _) => jobs.AddOrUpdate(Tag(tags, "lustre.target"), value, (_, seen) => Math.Max(seen, value)));
        meters.Start();
        meters.RecordObservableInstruments();

        Assert.Equal(StripeSize, bytes.GetValueOrDefault(("OST0000", "write")));
        Assert.Equal(1, operations.GetValueOrDefault(("MDT0000", "open")));
        Assert.True(operations.GetValueOrDefault(("OST0000", "write")) >= 1, "no write of the job counted on OST0000");
        Assert.False(operations.ContainsKey(("OST0000", "read")), "a counter without samples is exported");
        Assert.True(jobs.GetValueOrDefault("MDT0000") >= 1, "the MDT's job count is not exported");
    }

    private static string Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string ?? string.Empty;
            }
        }

        return string.Empty;
    }
}
