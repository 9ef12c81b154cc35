using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Microsoft.Extensions.Logging.Abstractions;
using static Lustre.Tests.Mirrors.MirrorFiles;

namespace Lustre.Tests.Migration;

/// <summary>
/// A migration whose migrator goes silent, or whose MDS restarts, on a node with a one-second migration lease: the hold
/// on writers ends with the lease, the migrator is refused, and the objects it placed (and wrote) are destroyed.
/// </summary>
public sealed class MigrationLeaseTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly TempFolder _data = new("lustre-migrate-");

    public void Dispose() => _data.Dispose();

    private string NodeDirectory => Path.Combine(_data.Path, "node");

    private Task<LustreNode> StartAsync(TimeSpan lease) => LustreNode.StartAsync(
        new NodeOptions { DataDirectory = NodeDirectory, RunMgs = true, RunMds = true, RunOss = true, OstCount = 2, MigrationLease = lease },
        NullLoggerFactory.Instance,
        CancellationToken.None);

    [Fact]
    public async Task A_migrator_that_stops_renewing_loses_the_file_to_writers_and_its_new_objects_to_the_destroy_queue()
    {
        await using var node = await StartAsync(TimeSpan.FromSeconds(1));
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        var data = await WriteAsync(client);
        var (begun, placed) = await BeginAndCopySomeAsync(client);
        Assert.Equal(MigrateState.Copy, begun.State);

        // Held off while the lease lasts, then let in with the file's own layout.
        await using (var file = await client.OpenFileAsync("/f", FileMode.Open, FileAccess.ReadWrite).WaitAsync(Patience))
        {
            Assert.Equal(1, file.Layout.Components[0].StripeCount);
        }

        // Lapsed, or already swept by the MDS's background loop: either way the migrator is told it is over.
        var lapsed = await Assert.ThrowsAsync<LustreServerException>(() => StepAsync(client, begun, MigrateOperation.Renew));
        Assert.Equal(LustreErrno.ESTALE, lapsed.Errno);

        await node.Destroys!.RunOnceAsync(CancellationToken.None);
        Assert.All(placed, o => Assert.False(File.Exists(ObjectPath(o)), $"object {o} of the lapsed migration is still on its OST"));
        var refused = await Assert.ThrowsAsync<LustreServerException>(() => StepAsync(client, begun, MigrateOperation.Swap));
        Assert.Equal(LustreErrno.ESTALE, refused.Errno);
        Assert.Equal(data, await ReadAsync(client, "/f"));
        Assert.Equal(2, (await client.MigrateAsync("/f", FileLayout.Raid0(1 << 20, stripeCount: 2))).Layout!.Components[0].StripeCount);
        Assert.Equal(data, await ReadAsync(client, "/f"));
    }

    [Fact]
    public async Task A_migration_the_MDS_restarted_under_is_refused_to_its_migrator_and_its_objects_are_destroyed()
    {
        byte[] data;
        MigrateReply begun;
        OstObject[] placed;
        var lease = TimeSpan.FromSeconds(5);
        await using (var node = await StartAsync(lease))
        await using (var client = new LustreClient($"{node.Endpoint}/{node.FsName}"))
        {
            data = await WriteAsync(client);
            (begun, placed) = await BeginAndCopySomeAsync(client);
        }

        await using var restarted = await StartAsync(lease);
        await using var again = new LustreClient($"{restarted.Endpoint}/{restarted.FsName}");
        var refused = await Assert.ThrowsAsync<LustreServerException>(() => StepAsync(again, begun, MigrateOperation.Renew));
        Assert.Equal(LustreErrno.ESTALE, refused.Errno);
        Assert.Contains("the MDS restarted", refused.Message, StringComparison.Ordinal);

        // Writers are not held by a migration nobody can finish (an open answered EINPROGRESS would throw here, the
        // SDK's own open would wait); its objects go once its lease has passed.
        using (var frame = FrameBuffer.Rent())
        {
            new OpenRequest("/f", OpenFlags.Read | OpenFlags.Write, 0x1A4, []).Write(frame.Body);
            var opened = await again.Session.CallForAttributesAsync(Opcode.MdsOpen, frame, "/f", CancellationToken.None);
            Assert.Equal(1, LayoutCodec.Decode(opened.Layout).Components[0].StripeCount);
            await again.Session.CloseAsync(new CloseRequest(opened.Fid, Writer: true), CancellationToken.None);
        }

        using var timeout = new CancellationTokenSource(Patience);
        while (placed.Any(o => File.Exists(ObjectPath(o))))
        {
            await restarted.Destroys!.RunOnceAsync(timeout.Token);
            await Task.Delay(50, timeout.Token);
        }

        Assert.Equal(data, await ReadAsync(again, "/f"));
    }

    private static async Task<byte[]> WriteAsync(LustreClient client)
    {
        var data = RandomBytes(3 << 20, seed: 20);
        await using var file = await client.OpenFileAsync("/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1));
        await file.WriteAtAsync(0, data);
        return data;
    }

    /// <summary>Begins a migration to two stripes and writes its first 2 MiB to the new objects, as a migrator's copy would, then goes silent.</summary>
    private async Task<(MigrateReply Begun, OstObject[] Placed)> BeginAndCopySomeAsync(LustreClient client)
    {
        var begun = (await client.Session.MigrateAsync(
            new MigrateRequest("/f", default, MigrateOperation.Begin, MigrateFlags.None, 0, 0, LayoutCodec.Encode(FileLayout.Raid0(1 << 20, stripeCount: 2))), "/f", CancellationToken.None))!;
        var target = LayoutCodec.Decode(begun.NewLayout);
        var copier = new LustreFile(client.Session, "/f", begun.File, writable: false);
        await StripedIo.WriteLayoutAsync(copier, target, 0, RandomBytes(2 << 20, seed: 21), CancellationToken.None);
        OstObject[] placed = [.. target.AllObjects()];
        Assert.All(placed, o => Assert.True(File.Exists(ObjectPath(o)), $"object {o} was not written"));
        return (begun, placed);
    }

    private static Task<MigrateReply?> StepAsync(LustreClient client, MigrateReply begun, MigrateOperation operation) =>
        client.Session.MigrateAsync(new MigrateRequest("/f", begun.File.Fid, operation, MigrateFlags.None, begun.MigrationId, begun.DataVersion, []), "/f", CancellationToken.None);

    private string ObjectPath(OstObject obj) =>
        Path.Combine(NodeDirectory, $"ost{obj.OstIndex:X4}", "objects", (obj.ObjectId & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture), obj.ObjectId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
}
