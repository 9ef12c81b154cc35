using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Namespace;

[Collection(ClusterCollection.Name)]
public sealed class CreateFileTests
{
    private readonly ClusterFixture _fixture;

    public CreateFileTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task CreateFileAsync_makes_an_empty_file_that_is_not_open_for_write_and_refuses_an_existing_name()
    {
        var dir = await _fixture.NewDirectoryAsync();

        var info = await _fixture.Client.CreateFileAsync($"{dir}/empty", FileLayout.Raid0(65536, 2));

        Assert.False(info.IsDirectory);
        Assert.Equal(0, info.Length);
        Assert.Equal(2, info.Layout!.Components[0].Objects.Count);
        Assert.False((await _fixture.Client.GetInfoAsync($"{dir}/empty")).IsOpenForWrite);
        var again = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.CreateFileAsync($"{dir}/empty"));
        Assert.Equal(LustreErrno.EEXIST, again.Errno);
    }

    [Fact]
    public async Task A_writer_closing_records_its_size_with_the_close()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = new LustreClient(_fixture.Address);
        var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew);
        await file.WriteAtAsync(0, new byte[3901]);
        var mdsCalls = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "lustre.client.rpc.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        var target = _fixture.Cluster.Endpoint.ToString();
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            string? op = null;
            var ours = false;
            foreach (var tag in tags)
            {
                op = tag.Key == "lustre.operation" ? tag.Value as string : op;
                ours |= tag.Key == "lustre.target" && (tag.Value as string) == target;
            }

            // Other test classes run other clusters at the same time: count only this cluster's MDS calls.
            if (ours && op is not null && op.StartsWith("Mds", StringComparison.Ordinal))
            {
                mdsCalls.Enqueue(op);
            }
        });
        listener.Start();

        await file.DisposeAsync();

        listener.Dispose();
        Assert.Equal(["MdsClose"], mdsCalls);
        var info = await _fixture.Client.GetInfoAsync($"{dir}/f");
        Assert.Equal(3901, info.Length);
        Assert.False(info.IsOpenForWrite);
    }
}
