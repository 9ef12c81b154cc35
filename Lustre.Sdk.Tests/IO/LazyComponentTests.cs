using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.IO;

/// <summary>
/// PFL components get their objects when a write or truncate first reaches them (Lustre's layout intent write), not
/// at create; two clients that reach one at once end with one set of objects.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LazyComponentTests(ClusterFixture fixture)
{
    private const long K64 = 64 << 10;
    private const long M = 1 << 20;

    private LustreClient Client => fixture.Client;

    /// <summary>[0, 1M) on 1 OST, [1M, 8M) on 2, [8M, EOF) on all.</summary>
    private static FileLayout ThreeComponents() => FileLayout.Composite(
    [
        new LayoutComponent(0, M, K64, 1),
        new LayoutComponent(M, 8 * M, K64, 2),
        new LayoutComponent(8 * M, LayoutComponent.Eof, K64, -1),
    ]);

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private async Task<FileLayout> LayoutOf(string path) => (await Client.GetInfoAsync(path)).Layout!;

    [Fact]
    public async Task A_pfl_file_has_objects_only_in_its_first_component_until_a_write_reaches_the_next()
    {
        var path = await fixture.NewDirectoryAsync() + "/f";
        await using var file = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: ThreeComponents());
        var head = Bytes(100_000, 1);
        await file.WriteAtAsync(0, head);
        await file.FlushAsync();

        var created = await LayoutOf(path);
        Assert.Equal([true, false, false], created.Components.Select(c => c.IsInstantiated));
        Assert.Single(created.AllObjects());

        // A write from the first component into the second instantiates the second, not the third.
        var across = Bytes((int)K64, 2);
        await file.WriteAtAsync(M - 1000, across);
        var second = await LayoutOf(path);
        Assert.Equal([true, true, false], second.Components.Select(c => c.IsInstantiated));
        Assert.Equal(2, second.Components[1].Objects.Select(o => o.OstIndex).Distinct().Count());
        Assert.Equal(created.Generation + 1, second.Generation);
        Assert.Equal(second.AllObjects(), file.Layout.AllObjects());

        // Far into the third: every usable OST gets an object of it.
        var tail = Bytes(1000, 3);
        await file.WriteAtAsync(20 * M, tail);
        await file.FlushAsync();
        var third = await LayoutOf(path);
        Assert.True(third.IsInstantiated);
        Assert.Equal(Enumerable.Range(0, ClusterFixture.OstCount), third.Components[2].Objects.Select(o => o.OstIndex).Order());

        // Everything reads back; what was never written reads as zeros.
        await using var reader = await Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        Assert.Equal((20 * M) + tail.Length, reader.Length);
        var back = new byte[reader.Length];
        Assert.Equal(back.Length, await reader.ReadAtAsync(0, back));
        var expected = new byte[back.Length];
        head.CopyTo(expected, 0);
        across.CopyTo(expected, M - 1000);
        tail.CopyTo(expected, 20 * M);
        Assert.Equal(expected, back);
    }

    [Fact]
    public void Bytes_past_the_instantiated_components_read_as_zeros_without_a_request()
    {
        var template = ThreeComponents();
        var layout = template.WithComponents([template.Components[0].WithObjects([new OstObject(0, 1)]), template.Components[1], template.Components[2]]);
        var buffer = new byte[2 * M];
        Array.Fill(buffer, (byte)7);

        var left = StripedIo.ZeroUninstantiated(layout, M - 10, buffer);

        Assert.Equal(10, left.Length);
        Assert.All(buffer[..10], b => Assert.Equal(7, b));
        Assert.All(buffer[10..], b => Assert.Equal(0, b));
        Assert.Equal(0, StripedIo.ZeroUninstantiated(layout, 3 * M, buffer).Length);
        Assert.Equal((int)M, StripedIo.ZeroUninstantiated(layout, 0, buffer.AsMemory(0, (int)M)).Length);
    }

    [Fact]
    public async Task A_truncate_past_the_first_component_instantiates_the_components_below_the_new_size()
    {
        var path = await fixture.NewDirectoryAsync() + "/t";
        await using (var file = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: ThreeComponents()))
        {
            await file.SetLengthAsync(3 * M);
            Assert.Equal(3 * M, file.Length);
        }

        var layout = await LayoutOf(path);
        Assert.Equal([true, true, false], layout.Components.Select(c => c.IsInstantiated));
        await using var reader = await Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var back = new byte[(int)(3 * M)];
        Assert.Equal(back.Length, await reader.ReadAtAsync(0, back));
        Assert.All(back, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Two_clients_reaching_a_component_at_once_end_with_one_set_of_objects_and_both_writes()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var other = new LustreClient(fixture.Address);
        for (var round = 0; round < 8; round++)
        {
            var path = $"{dir}/c{round}";
            await (await Client.OpenFileAsync(path, FileMode.CreateNew, layout: ThreeComponents())).DisposeAsync();
            await using var first = await Client.OpenFileAsync(path, FileMode.Open);
            await using var second = await other.OpenFileAsync(path, FileMode.Open);
            var a = Bytes((int)K64, 10 + round);
            var b = Bytes((int)K64, 20 + round);

            // Both handles hold the layout without the second component's objects; both write into it at once.
            using var start = new SemaphoreSlim(0, 2);
            var writes = new[]
            {
                Task.Run(async () => { await start.WaitAsync(); await first.WriteAtAsync(2 * M, a); await first.FlushAsync(); }),
                Task.Run(async () => { await start.WaitAsync(); await second.WriteAtAsync(5 * M, b); await second.FlushAsync(); }),
            };
            start.Release(2);
            await Task.WhenAll(writes);

            var layout = await LayoutOf(path);
            Assert.Equal(2, layout.Components[1].Objects.Count);
            Assert.False(layout.Components[2].IsInstantiated);
            Assert.Equal(layout.AllObjects(), first.Layout.AllObjects());
            Assert.Equal(layout.AllObjects(), second.Layout.AllObjects());

            await using var reader = await Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
            var back = new byte[K64];
            Assert.Equal(back.Length, await reader.ReadAtAsync(2 * M, back));
            Assert.Equal(a, back);
            Assert.Equal(back.Length, await reader.ReadAtAsync(5 * M, back));
            Assert.Equal(b, back);
        }
    }

    [Fact]
    public async Task A_reader_opened_before_another_client_wrote_further_reads_to_its_own_end_of_file()
    {
        var path = await fixture.NewDirectoryAsync() + "/r";
        await using (var file = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: ThreeComponents()))
        {
            await file.WriteAtAsync(0, Bytes(1000, 4));
        }

        await using var reader = await Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        await using (var other = new LustreClient(fixture.Address))
        await using (var writer = await other.OpenFileAsync(path, FileMode.Open))
        {
            await writer.WriteAtAsync(9 * M, Bytes(1000, 5));
        }

        // Its size and layout are as at open: past its size is end of file, and nothing asks for objects.
        var back = new byte[2000];
        Assert.Equal(1000, await reader.ReadAtAsync(0, back));
        Assert.Equal(0, await reader.ReadAtAsync(9 * M, back));
        Assert.False(reader.Layout.Components[1].IsInstantiated);
    }

    [Fact]
    public async Task Writing_or_truncating_past_the_end_of_a_layout_that_stops_short_is_ENODATA()
    {
        var path = await fixture.NewDirectoryAsync() + "/short";
        var layout = FileLayout.Composite([new LayoutComponent(0, M, K64, 1), new LayoutComponent(M, 2 * M, K64, 2)]);
        await using var file = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        var data = Bytes(1000, 6);
        await file.WriteAtAsync((2 * M) - 1000, data);

        var write = await Assert.ThrowsAsync<LustreServerException>(async () => await file.WriteAtAsync((2 * M) - 10, data));
        var truncate = await Assert.ThrowsAsync<LustreServerException>(() => file.SetLengthAsync((2 * M) + 1));

        Assert.Equal((LustreErrno.ENODATA, LustreErrno.ENODATA), (write.Errno, truncate.Errno));
        Assert.Contains("the layout ends at 2097152", write.ServerMessage, StringComparison.Ordinal);
        Assert.Equal(2 * M, file.Length);
    }

    [Fact]
    public async Task A_layout_naming_objects_even_in_one_component_is_refused_at_create_so_no_object_belongs_to_two_files()
    {
        var dir = await fixture.NewDirectoryAsync();
        var partly = (await Client.CreateFileAsync(dir + "/a", ThreeComponents())).Layout!;
        Assert.False(partly.IsInstantiated);

        var sdk = await Assert.ThrowsAsync<ArgumentException>(() => Client.CreateFileAsync(dir + "/b", partly));
        Assert.Equal("layout", sdk.ParamName);

        await using var rpc = fixture.RawMdsClient();
        using var frame = FrameBuffer.Rent();
        new OpenRequest(dir + "/b", OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, LayoutCodec.Encode(partly)).Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsOpen, frame, default, default, CancellationToken.None);
        Assert.Equal(LustreErrno.EINVAL, (LustreErrno)reply.Status);
        Assert.Contains("must not name OST objects", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.False(await Client.ExistsAsync(dir + "/b"));
    }

    [Fact]
    public async Task Mirrored_and_migrated_pfl_files_have_every_component_instantiated()
    {
        var dir = await fixture.NewDirectoryAsync();
        var mirrored = await Client.CreateFileAsync(dir + "/m", FileLayout.Mirrored(2, FileLayout.Composite([new LayoutComponent(0, M, K64, 1), new LayoutComponent(M, LayoutComponent.Eof, K64, 1)])));
        Assert.True(mirrored.Layout!.IsInstantiated);

        // A PFL file that becomes mirror 1 gets its unwritten components' objects, so every write reaches both mirrors.
        await Client.CreateFileAsync(dir + "/e", FileLayout.Composite([new LayoutComponent(0, M, K64, 1), new LayoutComponent(M, LayoutComponent.Eof, K64, 1)]));
        var extended = await Client.ExtendMirrorsAsync(dir + "/e", FileLayout.Raid0(K64, 1));
        Assert.True(extended.IsInstantiated);
        await using (var file = await Client.OpenFileAsync(dir + "/e"))
        {
            await file.WriteAtAsync(10 * M, Bytes(100, 7));
        }

        Assert.All((await LayoutOf(dir + "/e")).Mirrors, m => Assert.False(m.IsStale));

        // A migration's copy may reach any component: the new layout is placed whole.
        await using (var file = await Client.OpenFileAsync(dir + "/g", FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, Bytes(1000, 8));
        }

        var migrated = await Client.MigrateAsync(dir + "/g", ThreeComponents());
        Assert.True(migrated.Layout!.IsInstantiated);
    }
}
