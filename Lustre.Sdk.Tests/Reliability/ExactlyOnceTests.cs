using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Reliability;

/// <summary>
/// A modifying request whose reply is lost, then the MDS killed and restarted, then the request resent (same client,
/// same xid, the Resend flag), as a client does after reconnecting. The resend must get the original result and
/// change nothing, whatever other clients did in between: the MDT recorded the result with the change.
/// </summary>
public sealed class ExactlyOnceTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-once-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Resends_after_an_MDS_restart_are_answered_from_the_record_not_applied_again()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 1);
        await using var other = new LustreClient(cluster.Address);
        await WriteAsync(other, "/u", "B's first /u");
        await WriteAsync(other, "/r", "old checkpoint");
        await WriteAsync(other, "/r.new", "complete checkpoint");
        await other.CreateFileAsync("/s");

        var sFid = (await other.GetInfoAsync("/s")).Fid;
        var firstMtime = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var client = "client-once-" + Guid.NewGuid().ToString("N");
        (Opcode Opcode, ulong Xid, Action<BodyWriter> Body)[] requests =
        [
            (Opcode.MdsUnlink, 101, w => new PathRequest("/u").Write(w)),
            (Opcode.MdsRename, 102, w => new RenameRequest("/r.new", "/r").Write(w)),
            (Opcode.MdsOpen, 103, w => new OpenRequest("/x", OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, []).Write(w)),
            (Opcode.MdsMkdir, 104, w => new MkdirRequest("/m", 0x1ED).Write(w)),
            (Opcode.MdsSetAttr, 105, w => new SetAttrRequest(sFid, SetAttrMask.ModifyTime, 0, 0, 0, 0, 0, firstMtime.ToUnixTimeMilliseconds() * 1_000_000).Write(w)),
        ];

        // Each is applied and answered, and each answer is lost on the way back.
        await using (var proxy = new FrameProxy(Endpoint(cluster.MdsEndpoint)))
        {
            foreach (var (opcode, xid, body) in requests)
            {
                proxy.DropRepliesOf = opcode;
                var lost = proxy.DroppedReplies.Count;
                await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, Settings(client), CancellationToken.None);
                await Assert.ThrowsAnyAsync<LustreException>(async () => (await CallAsync(connection, opcode, xid, body, resend: false)).Dispose());
                Assert.Equal(lost + 1, proxy.DroppedReplies.Count);
            }
        }

        var created = await other.GetInfoAsync("/x");
        await cluster.KillMdsAsync();
        await cluster.RestartMdsAsync(samePort: true);

        // Meanwhile another client writes a new /u and a new, partial /r.new, and sets /s's time.
        await WriteAsync(other, "/u", "B's second /u");
        await WriteAsync(other, "/r.new", "partial");
        var laterMtime = new DateTimeOffset(2024, 6, 1, 0, 0, 0, TimeSpan.Zero);
        await other.SetTimesAsync("/s", null, laterMtime);

        // The resends, on a new connection to the restarted MDS: each is answered as the first send was.
        await using (var connection = await RpcConnection.ConnectAsync(Endpoint(cluster.MdsEndpoint), Settings(client), CancellationToken.None))
        {
            foreach (var (opcode, xid, body) in requests)
            {
                using var reply = await CallAsync(connection, opcode, xid, body, resend: true);
                Assert.True(reply.Status == 0, $"{opcode} resent: {(LustreErrno)reply.Status} {reply.ErrorMessage}");
                if (opcode == Opcode.MdsOpen)
                {
                    var reader = reply.Reader;
                    Assert.Equal(created.Fid, InodeAttributes.Read(ref reader).Fid);
                }

                if (opcode == Opcode.MdsSetAttr)
                {
                    var reader = reply.Reader;
                    Assert.Equal(firstMtime.ToUnixTimeMilliseconds() * 1_000_000, InodeAttributes.Read(ref reader).ModifyTimeNs);
                }
            }
        }

        // Nothing was applied a second time.
        Assert.Equal("B's second /u", await ReadAsync(other, "/u"));
        Assert.Equal("complete checkpoint", await ReadAsync(other, "/r"));
        Assert.Equal("partial", await ReadAsync(other, "/r.new"));
        Assert.Equal(created.Fid, (await other.GetInfoAsync("/x")).Fid);
        Assert.True(await other.ExistsAsync("/m"));
        Assert.Equal(laterMtime, (await other.GetInfoAsync("/s")).LastWriteTime);
    }

    [Fact]
    public async Task Layout_changes_resent_after_an_MDS_restart_are_answered_from_the_record_not_applied_again()
    {
        const long M = 1 << 20;
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 1);
        await using var other = new LustreClient(cluster.Address);
        var fid = (await other.CreateFileAsync("/pfl", FileLayout.Composite([new LayoutComponent(0, M, M, 1), new LayoutComponent(M, 4 * M, M, 1)]))).Fid;
        var added = LayoutCodec.Encode(FileLayout.Composite([new LayoutComponent(0, 4 * M, M, 1)]));
        var client = "client-once-" + Guid.NewGuid().ToString("N");
        (ulong Xid, Action<BodyWriter> Body)[] requests =
        [
            (401, w => new LayoutRequest(fid, LayoutOperation.AddComponents, 4 * M, 0, ComponentSelection.ById, added).Write(w)),
            (402, w => new LayoutRequest(fid, LayoutOperation.DeleteComponents, 0, 3, ComponentSelection.ById, []).Write(w)),
            (403, w => new LayoutRequest(fid, LayoutOperation.Instantiate, 2 * M, 0, ComponentSelection.ById, []).Write(w)),
        ];

        // Added, deleted again, the second component instantiated: each applied, each answer lost.
        await using (var proxy = new FrameProxy(Endpoint(cluster.MdsEndpoint)) { DropRepliesOf = Opcode.MdsLayout })
        {
            foreach (var (xid, body) in requests)
            {
                await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, Settings(client), CancellationToken.None);
                await Assert.ThrowsAnyAsync<LustreException>(async () => (await CallAsync(connection, Opcode.MdsLayout, xid, body, resend: false)).Dispose());
            }

            Assert.Equal(3, proxy.DroppedReplies.Count);
        }

        var applied = (await other.GetInfoAsync("/pfl")).Layout!;
        Assert.Equal([M, 4 * M], applied.Components.Select(c => c.End));
        Assert.Equal(3u, applied.Generation);
        await cluster.KillMdsAsync();
        await cluster.RestartMdsAsync(samePort: true);

        // Applied again, the add would append a third component (the layout ends at 4M again) and the delete would find
        // none to delete: the records answer both as the first sends were answered.
        var ends = new List<long>();
        await using (var connection = await RpcConnection.ConnectAsync(Endpoint(cluster.MdsEndpoint), Settings(client), CancellationToken.None))
        {
            foreach (var (xid, body) in requests)
            {
                using var reply = await CallAsync(connection, Opcode.MdsLayout, xid, body, resend: true);
                Assert.True(reply.Status == 0, $"layout change {xid} resent: {(LustreErrno)reply.Status} {reply.ErrorMessage}");
                var reader = reply.Reader;
                ends.Add(LayoutCodec.Decode(InodeAttributes.Read(ref reader).Layout).End);
            }
        }

        Assert.Equal([8 * M, 4 * M, 4 * M], ends);
        var after = (await other.GetInfoAsync("/pfl")).Layout!;
        Assert.Equal(applied.Generation, after.Generation);
        Assert.Equal(applied.AllObjects(), after.AllObjects());
        Assert.Equal(4 * M, after.End);
    }

    [Fact]
    public async Task A_punch_or_destroy_resent_after_an_OSS_restart_is_answered_as_the_first_and_cuts_nothing_written_since()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 1);
        await using var other = new LustreClient(cluster.Address);
        var first = new byte[64 << 10];
        new Random(1).NextBytes(first);
        await using (var file = await other.OpenFileAsync("/p", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(1 << 20, 1)))
        {
            await file.WriteAtAsync(0, first);
            await file.FlushAsync();
        }

        var obj = (await other.GetInfoAsync("/p")).Layout!.Components[0].Objects[0];
        var client = "client-once-" + Guid.NewGuid().ToString("N");
        Action<BodyWriter> punch = w => new OstPunchRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), 4096).Write(w);

        // The punch is applied and answered, and the answer is lost; then the OSS is killed and restarted.
        await using (var proxy = new FrameProxy(Endpoint(cluster.OssEndpoint(0))) { DropRepliesOf = Opcode.OstPunch })
        {
            await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, Settings(client), CancellationToken.None);
            await Assert.ThrowsAnyAsync<LustreException>(async () => (await CallAsync(connection, Opcode.OstPunch, 301, punch, resend: false)).Dispose());
            Assert.Single(proxy.DroppedReplies);
        }

        await cluster.KillOssAsync(0);
        await cluster.RestartOssAsync(0, samePort: true);

        // Meanwhile another client writes past the punched size.
        var second = new byte[32 << 10];
        new Random(2).NextBytes(second);
        await using (var file = await other.OpenFileAsync("/p", FileMode.Open, FileAccess.ReadWrite))
        {
            await file.SetLengthAsync(4096);
            await file.WriteAtAsync(4096, second);
            await file.FlushAsync();
        }

        await using (var connection = await RpcConnection.ConnectAsync(Endpoint(cluster.OssEndpoint(0)), Settings(client), CancellationToken.None))
        {
            using var reply = await CallAsync(connection, Opcode.OstPunch, 301, punch, resend: true);
            Assert.True(reply.Status == 0, $"punch resent: {(LustreErrno)reply.Status} {reply.ErrorMessage}");
        }

        await using (var file = await other.OpenFileAsync("/p"))
        {
            var back = new byte[4096 + second.Length];
            Assert.Equal(back.Length, await file.ReadAtAsync(0, back));
            Assert.Equal(first.AsSpan(0, 4096).ToArray(), back[..4096]);
            Assert.Equal(second, back[4096..]);
        }

        // A destroy whose reply is lost across an OSS restart: the resend gets the original answer, and the object
        // stays gone (object ids are never reused, so there is nothing a second destroy could take).
        await using (var file = await other.OpenFileAsync("/q", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(1 << 20, 1)))
        {
            await file.WriteAtAsync(0, first);
            await file.FlushAsync();
        }

        var doomed = (await other.GetInfoAsync("/q")).Layout!.Components[0].Objects[0];
        Action<BodyWriter> destroy = w => new ObjectRef(doomed.OstIndex, doomed.ObjectId).Write(w);
        await using (var proxy = new FrameProxy(Endpoint(cluster.OssEndpoint(0))) { DropRepliesOf = Opcode.OstDestroy })
        {
            await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, Settings(client), CancellationToken.None);
            await Assert.ThrowsAnyAsync<LustreException>(async () => (await CallAsync(connection, Opcode.OstDestroy, 302, destroy, resend: false)).Dispose());
            Assert.Single(proxy.DroppedReplies);
        }

        await cluster.KillOssAsync(0);
        await cluster.RestartOssAsync(0, samePort: true);
        Assert.DoesNotContain((doomed.OstIndex, doomed.ObjectId), cluster.ObjectFiles());
        await using (var connection = await RpcConnection.ConnectAsync(Endpoint(cluster.OssEndpoint(0)), Settings(client), CancellationToken.None))
        {
            using var reply = await CallAsync(connection, Opcode.OstDestroy, 302, destroy, resend: true);
            Assert.True(reply.Status == 0, $"destroy resent: {(LustreErrno)reply.Status} {reply.ErrorMessage}");
        }

        Assert.DoesNotContain((doomed.OstIndex, doomed.ObjectId), cluster.ObjectFiles());
        Assert.Contains((obj.OstIndex, obj.ObjectId), cluster.ObjectFiles());
    }

    [Fact]
    public async Task A_Data_on_MDT_write_resent_after_an_MDS_restart_is_answered_from_its_record_and_does_not_undo_a_later_truncate()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 1);
        await using var other = new LustreClient(cluster.Address);
        LustreFid fid;
        await using (var file = await other.OpenFileAsync("/d", FileMode.CreateNew, FileAccess.Write, FileLayout.Composite([LayoutComponent.DataOnMdt(64 << 10)])))
        {
            await file.WriteAtAsync(0, new byte[1000]);
            fid = file.Fid;
        }

        var client = "client-once-" + Guid.NewGuid().ToString("N");
        var bytes = new byte[5000];
        bytes.AsSpan().Fill((byte)'B');
        Action<BodyWriter> write = w => new DomWriteRequest(fid, 0).Write(w);

        // The write is committed and answered, and the answer is lost; then the MDS is killed and restarted.
        await using (var proxy = new FrameProxy(Endpoint(cluster.MdsEndpoint)) { DropRepliesOf = Opcode.MdsDomWrite })
        {
            await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, Settings(client), CancellationToken.None);
            await Assert.ThrowsAnyAsync<LustreException>(async () => (await CallAsync(connection, Opcode.MdsDomWrite, 201, write, resend: false, bytes)).Dispose());
            Assert.Single(proxy.DroppedReplies);
        }

        await cluster.KillMdsAsync();
        await cluster.RestartMdsAsync(samePort: true);
        Assert.Equal(5000, (await other.GetInfoAsync("/d")).Length);

        // Another client truncates the file; the resend must not bring the cut bytes back.
        await using (var file = await other.OpenFileAsync("/d", FileMode.Open, FileAccess.Write))
        {
            await file.SetLengthAsync(100);
        }

        await using (var connection = await RpcConnection.ConnectAsync(Endpoint(cluster.MdsEndpoint), Settings(client), CancellationToken.None))
        {
            using var reply = await CallAsync(connection, Opcode.MdsDomWrite, 201, write, resend: true, bytes);
            Assert.True(reply.Status == 0, $"write resent: {(LustreErrno)reply.Status} {reply.ErrorMessage}");
            var reader = reply.Reader;
            Assert.Equal(5000, DomWriteReply.Read(ref reader).Size);
        }

        Assert.Equal(new string('B', 100), await ReadAsync(other, "/d"));
    }

    private static RpcConnectionSettings Settings(string client) =>
        new(client, new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(10), null, NullLogger.Instance);

    private static System.Net.IPEndPoint Endpoint(string hostPort) => System.Net.IPEndPoint.Parse(hostPort);

    private static async Task<RpcReply> CallAsync(RpcConnection connection, Opcode opcode, ulong xid, Action<BodyWriter> body, bool resend, ReadOnlyMemory<byte> bulk = default)
    {
        using var frame = FrameBuffer.Rent();
        body(frame.Body);
        return await connection.CallAsync(opcode, frame, bulk, default, xid, resend, CancellationToken.None);
    }

    private static async Task WriteAsync(LustreClient client, string path, string text)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.Create, FileAccess.Write, FileLayout.Raid0(1 << 20, 1));
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        await file.WriteAtAsync(0, bytes);
        await file.SetLengthAsync(bytes.Length);
        await file.FlushAsync();
    }

    private static async Task<string> ReadAsync(LustreClient client, string path)
    {
        await using var file = await client.OpenFileAsync(path);
        var bytes = new byte[(int)file.Length];
        var read = await file.ReadAtAsync(0, bytes);
        return System.Text.Encoding.UTF8.GetString(bytes, 0, read);
    }
}
