using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Diagnostics;
using Lustre.Layouts;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Diagnostics;

[Collection(ClusterCollection.Name)]
public sealed class DiagnosticsTests
{
    private readonly ClusterFixture _fixture;

    public DiagnosticsTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task Bytes_per_OST_RPC_durations_and_spans_are_reported()
    {
        var path = await _fixture.NewDirectoryAsync() + "/metered";
        var bytes = new ConcurrentDictionary<string, long>();
        var durations = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == LustreDiagnostics.Name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "lustre.client.io.bytes" && Tag(tags, "lustre.direction") == "write")
            {
                // Only this test's file: the path is not a tag, so count per OST and check the totals below.
                bytes.AddOrUpdate(Tag(tags, "lustre.target")!, value, (_, sum) => sum + value);
            }
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) =>
        {
            if (instrument.Name == "lustre.client.rpc.duration")
            {
                durations.Add(Tag(tags, "lustre.operation")!);
            }
        });
        listener.Start();
        var spans = new ConcurrentBag<string>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LustreDiagnostics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a => spans.Add(a.OperationName),
        };
        ActivitySource.AddActivityListener(activities);

        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(65536, -1)))
        {
            await file.WriteAtAsync(0, new byte[4 * 65536]);
        }

        listener.Dispose();
        Assert.All(new[] { "OST0000", "OST0001", "OST0002", "OST0003" }, ost => Assert.True(bytes.GetValueOrDefault(ost) >= 65536, $"{ost}: {bytes.GetValueOrDefault(ost)} bytes"));
        Assert.Contains("OstWrite", durations);
        Assert.Contains("OstSync", durations);
        Assert.Contains("MdsOpen", durations);
        Assert.Contains("lustre.write", spans);
        Assert.Contains("lustre.flush", spans);
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
