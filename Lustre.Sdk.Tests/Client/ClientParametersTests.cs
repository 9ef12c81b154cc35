using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Client;

/// <summary>
/// A client's own parameters (lctl get_param/set_param on a client node): named after Lustre's, and each setting
/// changes what the client really does at run time: RPCs in flight, RPC size, readahead.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClientParametersTests(ClusterFixture fixture)
{
    /// <summary>Passes calls to the real connection, holding each bulk one a moment, and notes how many are in flight and how large.</summary>
    private sealed class WatchedConnection(IRpcConnection real, Watch watch) : IRpcConnection
    {
        public bool IsHealthy => real.IsHealthy;

        public int MaxBulkLength => real.MaxBulkLength;

        public async ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
        {
            if (opcode is not (Opcode.OstWrite or Opcode.OstRead))
            {
                return await real.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken);
            }

            watch.Enter(Math.Max(bulkOut.Length, bulkIn.Length));
            try
            {
                // Long enough that RPCs sent together are in flight together, whatever the machine's load.
                await Task.Delay(30, cancellationToken);
                return await real.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken);
            }
            finally
            {
                watch.Leave();
            }
        }

        public ValueTask DisposeAsync() => real.DisposeAsync();
    }

    private sealed class Watch
    {
        private int _inFlight;
        private int _peak;
        private int _largest;

        public int Peak => Volatile.Read(ref _peak);

        public int Largest => Volatile.Read(ref _largest);

        public void Enter(int bytes)
        {
            var now = Interlocked.Increment(ref _inFlight);
            InterlockedMax(ref _peak, now);
            InterlockedMax(ref _largest, bytes);
        }

        public void Leave() => Interlocked.Decrement(ref _inFlight);

        /// <summary>Waits until no watched RPC is in flight (readahead still filling in the background), at most 10 s.</summary>
        public async Task IdleAsync()
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Volatile.Read(ref _inFlight) > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "watched RPCs still in flight after 10 s");
                await Task.Delay(10);
            }
        }

        public void Reset()
        {
            Volatile.Write(ref _peak, 0);
            Volatile.Write(ref _largest, 0);
        }

        private static void InterlockedMax(ref int location, int value)
        {
            for (var seen = Volatile.Read(ref location); value > seen; seen = Volatile.Read(ref location))
            {
                if (Interlocked.CompareExchange(ref location, value, seen) == seen)
                {
                    return;
                }
            }
        }
    }

    private (LustreClient Client, Watch Watch) WatchedClient(LustreClientOptions? options = null)
    {
        var client = new LustreClient(fixture.Address, options);
        var watch = new Watch();
        client.Session.Targets.OstConnectionOverride = (_, real) => new WatchedConnection(real, watch);
        return (client, watch);
    }

    [Fact]
    public async Task A_client_has_an_osc_per_OST_an_mdc_and_an_llite_named_as_Lustre_names_them()
    {
        await using var client = new LustreClient(fixture.Address);

        var parameters = await client.GetParametersAsync("osc.*.max_rpcs_in_flight");
        var instance = client.Session.Parameters.Instance;

        Assert.Equal(
            Enumerable.Range(0, ClusterFixture.OstCount).Select(i => $"osc.lustre-OST{i:X4}-osc-{instance}.max_rpcs_in_flight"),
            parameters.Select(p => p.Name));
        Assert.All(parameters, p => Assert.Equal(("8", true), (p.Value, p.IsWritable)));
        Assert.Matches("^[0-9a-f]{16}$", instance);
        Assert.Equal(["llite", "mdc", "osc"], (await client.GetParametersAsync("*")).Where(p => p.Value is null).Select(p => p.Name));
        Assert.Equal("128", Assert.Single(await client.GetParametersAsync("llite.*.max_read_ahead_per_file_mb")).Value);
        Assert.Equal(fixture.Cluster.Endpoint.ToString(), Assert.Single(await client.GetParametersAsync("mdc.*.mds_conn_uuid")).Value);
        Assert.Equal("1024", (await client.GetParametersAsync("osc.*OST0002*.max_pages_per_rpc"))[0].Value);
        Assert.False(Assert.Single(await client.GetParametersAsync("version")).IsWritable);
        Assert.Empty(await client.GetParametersAsync("nothing.*"));
    }

    [Fact]
    public async Task Set_param_max_rpcs_in_flight_bounds_the_RPCs_a_striped_write_keeps_in_flight_from_then_on()
    {
        var dir = await fixture.NewDirectoryAsync();
        var (client, watch) = WatchedClient(new LustreClientOptions { MaxBulkSize = 1 << 20 });
        await using (client)
        {
            var data = new byte[16 << 20];
            await using var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1, stripeOffset: 1));

            // 16 RPCs of 1 MiB to one OST, all sent at once: the default window of 8 fills.
            await file.WriteAtAsync(0, data);
            Assert.True(watch.Peak > 2, $"only {watch.Peak} RPCs were ever in flight under the default bound of 8");

            var changed = await client.SetParametersAsync("osc.*OST0001*.max_rpcs_in_flight", "2");
            Assert.Equal([$"osc.{client.Session.Parameters.Osc(1)}.max_rpcs_in_flight"], changed);
            watch.Reset();
            await file.WriteAtAsync(0, data);

            Assert.InRange(watch.Peak, 1, 2);
            Assert.Equal("2", (await client.GetParametersAsync("osc.*OST0001*.max_rpcs_in_flight"))[0].Value);
            Assert.Equal("8", (await client.GetParametersAsync("osc.*OST0000*.max_rpcs_in_flight"))[0].Value);
        }
    }

    [Fact]
    public async Task Set_param_max_pages_per_rpc_cuts_bulk_RPCs_to_that_size()
    {
        var dir = await fixture.NewDirectoryAsync();
        var (client, watch) = WatchedClient();
        await using (client)
        {
            await client.SetParametersAsync("osc.*.max_pages_per_rpc", "64");
            await using var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(4 << 20, stripeCount: 1));
            await file.WriteAtAsync(0, new byte[4 << 20]);

            Assert.Equal(64 * 4096, watch.Largest);
        }
    }

    [Fact]
    public async Task Set_param_max_read_ahead_per_file_mb_zero_stops_readahead_of_an_open_stream()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using (var writer = await fixture.Client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1)))
        {
            await writer.WriteAtAsync(0, new byte[8 << 20]);
        }

        var (client, watch) = WatchedClient();
        await using (client)
        {
            await using var stream = await client.OpenStreamAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
            var buffer = new byte[64 << 10];
            for (var i = 0; i < 16; i++)
            {
                await stream.ReadExactlyAsync(buffer);
            }

            Assert.True(watch.Largest > buffer.Length, $"sequential reads read ahead no more than {watch.Largest} bytes at a time");

            await client.SetParametersAsync("llite.*.max_read_ahead_per_file_mb", "0");
            await watch.IdleAsync();
            watch.Reset();
            stream.Position = 4 << 20;
            for (var i = 0; i < 16; i++)
            {
                await stream.ReadExactlyAsync(buffer);
            }

            Assert.Equal(buffer.Length, watch.Largest);
        }
    }

    [Theory]
    [InlineData("osc.*.max_rpcs_in_flight", "0", typeof(ArgumentOutOfRangeException), "must be 1 to 256; 0 is not")]
    [InlineData("osc.*.max_rpcs_in_flight", "100000", typeof(ArgumentOutOfRangeException), "must be 1 to 256; 100000 is not")]
    [InlineData("osc.*.max_rpcs_in_flight", "eight", typeof(ArgumentException), "takes a number from 1 to 256")]
    [InlineData("osc.*.max_pages_per_rpc", "100", typeof(ArgumentException), "must be a multiple of 16 pages")]
    [InlineData("osc.*.max_pages_per_rpc", "8192", typeof(ArgumentOutOfRangeException), "must be 16 to 4096")]
    [InlineData("llite.*.max_read_ahead_per_file_mb", "999999999", typeof(ArgumentOutOfRangeException), "max_read_ahead_per_file_mb must be 0 to")]
    [InlineData("osc.*.ost_conn_uuid", "1.2.3.4:5", typeof(UnauthorizedAccessException), "is read-only")]
    [InlineData("jobid_var", "SLURM_JOB_ID", typeof(UnauthorizedAccessException), "jobid_var is read-only")]
    [InlineData("osc.*.no_such_thing", "1", typeof(KeyNotFoundException), "osc.*.no_such_thing")]
    public async Task Bad_values_read_only_parameters_and_unknown_names_are_refused_naming_the_parameter_and_nothing_changes(string pattern, string value, Type exception, string message)
    {
        await using var client = new LustreClient(fixture.Address);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.SetParametersAsync(pattern, value));

        Assert.IsType(exception, error);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.All(await client.GetParametersAsync("osc.*.max_rpcs_in_flight"), p => Assert.Equal("8", p.Value));
        Assert.All(await client.GetParametersAsync("osc.*.max_pages_per_rpc"), p => Assert.Equal("1024", p.Value));
    }

    [Fact]
    public async Task The_job_id_shows_as_jobid_var_and_jobid_name()
    {
        await using var client = new LustreClient(fixture.Address, new LustreClientOptions { JobId = "train-7" });

        Assert.Equal("nodelocal", Assert.Single(await client.GetParametersAsync("jobid_var")).Value);
        Assert.Equal("train-7", Assert.Single(await client.GetParametersAsync("jobid_name")).Value);
    }
}
