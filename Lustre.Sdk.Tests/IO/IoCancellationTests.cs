using System.Diagnostics;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Tests.Cluster;
using Xunit.Abstractions;

namespace Lustre.Tests.IO;

/// <summary>
/// Cancellation of stream and positional I/O against the 4-OST cluster: each call throws promptly once its token is
/// cancelled (see <see cref="CancellationLatency"/>), and the stream or file is left so that later calls see consistent data.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class IoCancellationTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int MiB = 1 << 20;

    /// <summary>Bytes that are never 0, so a byte that reads as 0 was not written.</summary>
    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(1 + ((i + seed) % 251));
        }

        return data;
    }

    /// <summary>A client whose stream write-behind holds 16 MiB, so a large write spends most of its time waiting for OSTs.</summary>
    private LustreClient SmallBudgetClient() => new(fixture.Address, new LustreClientOptions { DirtyBudget = 16 * MiB, MaxRpcsInFlightPerOst = 2 });

    [Fact]
    public async Task A_large_stream_write_stops_promptly_keeps_what_it_accepted_and_the_stream_goes_on()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var client = SmallBudgetClient();
        var data = Pattern(256 * MiB, 1);
        var tail = Pattern(3 * MiB, 7);
        long accepted;
        await using (var stream = await client.OpenStreamAsync($"{dir}/w", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(MiB, -1)))
        {
            using var cts = new CancellationTokenSource();
            var write = stream.WriteAsync(data, cts.Token).AsTask();
            await CancellationLatency.CancelAndMeasureAsync(write, cts, () => stream.Position >= 48 * MiB, output, "LustreStream.WriteAsync of 256 MiB");

            accepted = stream.Position;
            Assert.InRange(accepted, 48 * MiB, data.Length - 1);
            await stream.WriteAsync(tail);
            await stream.FlushAsync();
            Assert.Equal(accepted + tail.Length, stream.Length);

            stream.Position = 0;
            var back = new byte[accepted + tail.Length];
            await stream.ReadExactlyAsync(back);
            Assert.True(back.AsSpan(0, (int)accepted).SequenceEqual(data.AsSpan(0, (int)accepted)), "the accepted bytes differ");
            Assert.True(back.AsSpan((int)accepted).SequenceEqual(tail), "the bytes written after the cancellation differ");
        }

        Assert.Equal(accepted + tail.Length, (await fixture.Client.GetInfoAsync($"{dir}/w")).Length);
    }

    [Fact]
    public async Task Stream_calls_with_a_cancelled_token_change_nothing()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var stream = await fixture.Client.OpenStreamAsync($"{dir}/c", FileMode.CreateNew, FileAccess.ReadWrite);
        await stream.WriteAsync(Pattern(1000, 2));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.WriteAsync(Pattern(5 * MiB, 3), cts.Token));
        Assert.Equal((1000, 1000), (stream.Position, stream.Length));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.FlushAsync(cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.SetLengthAsync(10, cts.Token));
        stream.Position = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.ReadExactlyAsync(new byte[10], cts.Token));
        Assert.Equal(0, stream.Position);

        await stream.FlushAsync();
        Assert.Equal(1000, (await fixture.Client.GetInfoAsync($"{dir}/c")).Length);
        var back = new byte[1000];
        await stream.ReadExactlyAsync(back);
        Assert.Equal(Pattern(1000, 2), back);
    }

    [Fact]
    public async Task A_cancelled_flush_stops_waiting_and_the_next_flush_makes_every_byte_durable()
    {
        // OSTs that write through the page cache, so the flush has the OSTs' fsync of the 96 MiB to wait for. With direct
        // writes (the shared cluster's default) only the 16 MiB still in flight was left, which a fast disk took in less
        // than the 2 ms this waits before cancelling: the flush could end first (1 run in about 40 here).
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4, DirectWrites = false });
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { DirtyBudget = 16 * MiB, MaxRpcsInFlightPerOst = 2 });
        var data = Pattern(96 * MiB, 4);
        await using var stream = await client.OpenStreamAsync("/f", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(MiB, -1));
        await stream.WriteAsync(data);

        using var cts = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var flush = stream.FlushAsync(cts.Token);
        await CancellationLatency.CancelAndMeasureAsync(flush, cts, () => started.ElapsedMilliseconds >= 2, output, "LustreStream.FlushAsync of 16 MiB in flight");

        await stream.FlushAsync();
        Assert.Equal(data.Length, (await client.GetInfoAsync("/f")).Length);
        stream.Position = 0;
        var back = new byte[data.Length];
        await stream.ReadExactlyAsync(back);
        Assert.True(back.AsSpan().SequenceEqual(data), "the flushed bytes differ");
    }

    [Fact]
    public async Task A_large_stream_read_stops_promptly_without_moving_and_reads_again()
    {
        var dir = await fixture.NewDirectoryAsync();
        var data = Pattern(96 * MiB, 5);
        await using (var writer = await fixture.Client.OpenStreamAsync($"{dir}/r", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(MiB, -1)))
        {
            await writer.WriteAsync(data);
        }

        await using var client = SmallBudgetClient();
        await using var stream = await client.OpenStreamAsync($"{dir}/r", FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        using var cts = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var read = stream.ReadAsync(back, cts.Token).AsTask();
        await CancellationLatency.CancelAndMeasureAsync(read, cts, () => started.ElapsedMilliseconds >= 2, output, "LustreStream.ReadAsync of 96 MiB");

        Assert.Equal(0, stream.Position);
        await stream.ReadExactlyAsync(back);
        Assert.True(back.AsSpan().SequenceEqual(data), "the bytes read after the cancellation differ");
    }

    [Fact]
    public async Task A_large_positional_write_stops_promptly_leaves_no_request_behind_and_counts_what_landed()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var client = SmallBudgetClient();
        var gate = new RpcGate();
        gate.Attach(client);
        var first = Pattern(128 * MiB, 6);
        var second = Pattern(128 * MiB, 100);
        await using var file = await client.OpenFileAsync($"{dir}/p", FileMode.CreateNew, layout: FileLayout.Raid0(MiB, -1));

        // The writes to the OST of the file's second stripe wait at the gate (unsent) while the other OSTs take theirs,
        // so whenever the test gets to cancel, at least that OST's quarter of the write is still to do: the outcome
        // cannot depend on how fast this machine is (the write once finished between the check and the Cancel() in CI).
        gate.Ost = file.Layout.Components[0].Objects[1].OstIndex;
        using var cts = new CancellationTokenSource();
        var write = file.WriteAtAsync(0, first, cts.Token).AsTask();

        // Cancelled on progress (the handle's length grows as each piece is acknowledged), not after a time: a loaded
        // machine can spend any time in the call's first steps, and then little of the write would be left to cancel.
        await CancellationLatency.CancelAndMeasureAsync(write, cts, () => gate.Reached.Task.IsCompleted && file.Length >= 8 * MiB, output, "LustreFile.WriteAtAsync of 128 MiB");
        gate.Open();

        // What landed is whole stripe pieces of the first write; the rest reads as zeros, and nothing lies past Length.
        var length = file.Length;
        Assert.InRange(length, 0, first.Length);
        var landed = new byte[length];
        Assert.Equal((int)length, await file.ReadAtAsync(0, landed));
        for (var offset = 0; offset < length; offset += MiB)
        {
            var piece = landed.AsSpan(offset, (int)Math.Min(MiB, length - offset));
            Assert.True(piece.SequenceEqual(first.AsSpan(offset, piece.Length)) || !piece.ContainsAnyExcept((byte)0), $"stripe at {offset} is neither written nor empty");
        }

        Assert.Equal(length, (await fixture.Client.GetInfoAsync($"{dir}/p")).Length);

        // Writing the range again: no request of the cancelled write arrives late and overwrites it.
        await file.WriteAtAsync(0, second);
        await file.FlushAsync();
        var back = new byte[second.Length];
        Assert.Equal(back.Length, await file.ReadAtAsync(0, back));
        Assert.True(back.AsSpan().SequenceEqual(second), "a request of the cancelled write landed after the rewrite");
    }

    [Fact]
    public async Task A_large_positional_read_stops_promptly_and_the_file_reads_again()
    {
        var dir = await fixture.NewDirectoryAsync();
        var data = Pattern(96 * MiB, 8);
        await using (var writer = await fixture.Client.OpenFileAsync($"{dir}/q", FileMode.CreateNew, layout: FileLayout.Raid0(MiB, -1)))
        {
            await writer.WriteAtAsync(0, data);
        }

        await using var client = SmallBudgetClient();
        await using var file = await client.OpenFileAsync($"{dir}/q", FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        using var cts = new CancellationTokenSource();
        var started = Stopwatch.StartNew();
        var read = file.ReadAtAsync(0, back, cts.Token).AsTask();
        await CancellationLatency.CancelAndMeasureAsync(read, cts, () => started.ElapsedMilliseconds >= 2, output, "LustreFile.ReadAtAsync of 96 MiB");

        Assert.Equal(back.Length, await file.ReadAtAsync(0, back));
        Assert.True(back.AsSpan().SequenceEqual(data), "the bytes read after the cancellation differ");
    }

    [Fact]
    public async Task Positional_calls_with_a_cancelled_token_change_nothing()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var file = await fixture.Client.OpenFileAsync($"{dir}/z", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, -1));
        await file.WriteAtAsync(0, Pattern(1000, 9));
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await file.WriteAtAsync(0, new byte[4 * MiB], cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => file.SetLengthAsync(0, cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => file.FlushAsync(cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await file.ReadAtAsync(0, new byte[10], cts.Token));

        Assert.Equal(1000, file.Length);
        Assert.Equal(1000, (await fixture.Client.GetInfoAsync($"{dir}/z")).Length);
        await file.FlushAsync();
        var back = new byte[1000];
        Assert.Equal(1000, await file.ReadAtAsync(0, back));
        Assert.Equal(Pattern(1000, 9), back);
    }
}
