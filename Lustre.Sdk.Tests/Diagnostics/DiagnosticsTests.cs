using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Client;
using Lustre.Diagnostics;
using Lustre.Protocol;
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

    [Fact]
    public async Task A_failed_operation_sets_its_span_to_error_and_records_the_exception()
    {
        var dir = await _fixture.NewDirectoryAsync();
        using var recorder = new TelemetryRecorder();

        var missing = dir + "/missing";
        var notFound = await Assert.ThrowsAsync<FileNotFoundException>(() => _fixture.Client.GetInfoAsync(missing));
        var getattr = Assert.Single(recorder.Spans("lustre.MdsGetAttr", missing));
        Assert.Equal(ActivityStatusCode.Error, getattr.Status);
        Assert.Equal(notFound.Message, getattr.StatusDescription);
        TelemetryRecorder.AssertException(getattr, notFound);

        var path = dir + "/refused";
        await using var client = _fixture.ClientWithFaultyOst2(new LustreException("refused", LustreErrno.EIO, isTransient: false));
        var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(65536, -1, stripeOffset: 0));
        var refused = await Assert.ThrowsAnyAsync<IOException>(async () => await file.WriteAtAsync(0, new byte[4 * 65536]));
        await file.DisposeAsync();
        var write = Assert.Single(recorder.Spans("lustre.write", path));
        Assert.Equal(ActivityStatusCode.Error, write.Status);
        TelemetryRecorder.AssertException(write, refused);
        var created = Assert.Single(recorder.Spans("lustre.MdsOpen", path));
        Assert.Equal(ActivityStatusCode.Unset, created.Status);
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
