using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Rpc;

/// <summary>Every opcode of the protocol, sent raw to a live all-in-one server and answered with the reply its spec names.</summary>
[Collection(ClusterCollection.Name)]
public sealed class OpcodeTests
{
    private readonly ClusterFixture _fixture;

    public OpcodeTests(ClusterFixture fixture) => _fixture = fixture;

    private static InodeAttributes Attributes(byte[] body)
    {
        var reader = new BodyReader(body);
        return InodeAttributes.Read(ref reader);
    }

    private static MigrateReply Migration(byte[] body)
    {
        var reader = new BodyReader(body);
        return MigrateReply.Read(ref reader);
    }

    private static void AssertOk((FrameHeader Header, byte[] Body, byte[] Bulk) reply, Opcode opcode)
    {
        Assert.True(reply.Header.IsReply, $"{opcode}: not a reply");
        Assert.Equal(opcode, reply.Header.Opcode);
        if (reply.Header.Status != 0)
        {
            Assert.Fail($"{opcode}: status {(LustreErrno)reply.Header.Status}: {RawPeer.ErrorMessage(reply.Body)}");
        }
    }

    [Fact]
    public async Task Every_opcode_round_trips_against_a_live_server()
    {
        var seen = new HashSet<Opcode>();
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();
        seen.Add(Opcode.Connect);

        async Task<(FrameHeader Header, byte[] Body, byte[] Bulk)> Call(Opcode opcode, Action<BodyWriter>? body = null)
        {
            var reply = await peer.CallAsync(opcode, body);
            AssertOk(reply, opcode);
            seen.Add(opcode);
            return reply;
        }

        await Call(Opcode.Ping);
        var config = await Call(Opcode.MgsGetConfig);
        var configReader = new BodyReader(config.Body);
        var fs = FilesystemConfig.Read(ref configReader);
        Assert.Equal(ClusterFixture.OstCount, fs.Targets.Count(t => t.Kind == TargetKind.Ost));
        var ost0 = fs.Targets.First(t => t.Kind == TargetKind.Ost && t.Index == 0);
        await Call(Opcode.MgsRegisterTarget, w => new RegisterTargetRequest(ost0).Write(w));
        await Call(Opcode.MgsSetTargetState, w => new SetTargetStateRequest(TargetKind.Ost, 0, true).Write(w));
        var pool = "op" + Guid.NewGuid().ToString("N")[..12];
        var pooled = await Call(Opcode.MgsPool, w => new PoolRequest(PoolOperation.New, pool, -1).Write(w));
        var pooledReader = new BodyReader(pooled.Body);
        Assert.NotNull(FilesystemConfig.Read(ref pooledReader).FindPool(pool));
        await Call(Opcode.MgsPool, w => new PoolRequest(PoolOperation.Destroy, pool, -1).Write(w));

        var dir = "/op-" + Guid.NewGuid().ToString("N");
        var made = Attributes((await Call(Opcode.MdsMkdir, w => new MkdirRequest(dir, 0x1ED).Write(w))).Body);
        Assert.Equal(EntryType.Directory, made.Type);
        var layout = FileLayout.Raid0(65536, 2);
        var encoded = new byte[LayoutCodec.GetEncodedLength(layout)];
        LayoutCodec.Encode(layout, encoded);
        await Call(Opcode.MdsSetDirLayout, w => new SetDirLayoutRequest(dir, encoded).Write(w));
        var opened = Attributes((await Call(Opcode.MdsOpen, w => new OpenRequest(dir + "/f", OpenFlags.Create | OpenFlags.Write, 0x1A4, []).Write(w))).Body);
        var objects = LayoutCodec.Decode(opened.Layout).Components[0].Objects;
        Assert.Equal(2, objects.Count);
        Assert.True((opened.Flags & InodeFlags.Created) != 0);

        var obj = new ObjectRef(objects[0].OstIndex, objects[0].ObjectId);
        var data = "0123456789"u8.ToArray();
        var write = await peer.CallWithBulkAsync(Opcode.OstWrite, w => new OstWriteRequest(obj, 0).Write(w), data);
        AssertOk(write, Opcode.OstWrite);
        seen.Add(Opcode.OstWrite);
        var read = await Call(Opcode.OstRead, w => new OstReadRequest(obj, 2, 100).Write(w));
        Assert.Equal(data[2..], read.Bulk);
        var batch = await Call(Opcode.OstReadBatch, w => new OstReadBatchRequest(obj.OstIndex, [new(obj.ObjectId, 5, 3), new(obj.ObjectId, 0, 4), new(obj.ObjectId, 8, 4)]).Write(w));
        Assert.Equal("5670123" + "89\0\0", System.Text.Encoding.ASCII.GetString(batch.Bulk));
        await Call(Opcode.OstSync, w => obj.Write(w));
        var attr = await Call(Opcode.OstGetAttr, w => obj.Write(w));
        var attrReader = new BodyReader(attr.Body);
        Assert.Equal(new OstAttrReply(true, 10, 10), OstAttrReply.Read(ref attrReader));
        await Call(Opcode.OstPunch, w => new OstPunchRequest(obj, 4).Write(w));
        var statfs = await Call(Opcode.OstStatFs, w => new OstIndexRequest(obj.OstIndex).Write(w));
        var statReader = new BodyReader(statfs.Body);
        Assert.True(StatFsReply.Read(ref statReader).TotalBytes > 0);

        var set = Attributes((await Call(Opcode.MdsSetAttr, w => new SetAttrRequest(opened.Fid, SetAttrMask.SizeAtLeast, 4, 0, 0, 0, 0, 0).Write(w))).Body);
        Assert.Equal(4, set.Size);
        var got = Attributes((await Call(Opcode.MdsGetAttr, w => new PathRequest(dir + "/f").Write(w))).Body);
        Assert.True((got.Flags & InodeFlags.OpenForWrite) != 0);
        await Call(Opcode.MdsClose, w => new CloseRequest(opened.Fid, true).Write(w));
        Assert.Equal(InodeFlags.None, Attributes((await Call(Opcode.MdsGetAttr, w => new PathRequest(dir + "/f").Write(w))).Body).Flags);
        var page = await Call(Opcode.MdsReadDir, w => new ReadDirRequest(dir, string.Empty, 10).Write(w));
        var pageReader = new BodyReader(page.Body);
        Assert.Equal(["f"], ReadDirReply.Read(ref pageReader).Entries.Select(e => e.Name));
        var plus = await Call(Opcode.MdsReadDirPlus, w => new ReadDirPlusRequest(dir, string.Empty, 10, 65536).Write(w));
        var plusReader = new BodyReader(plus.Body);
        var plusPage = ReadDirPlusReply.Read(ref plusReader);
        Assert.True(plusPage.End);
        Assert.Equal("f", Assert.Single(plusPage.Entries).Name);
        Assert.Equal(opened.Fid, plusPage.Entries[0].Attributes.Fid);
        Assert.Equal(4, plusPage.Entries[0].Attributes.Size);
        Assert.Null(plusPage.Entries[0].Attributes.Capability); // listings never carry one
        var attrBatch = await Call(Opcode.MdsGetAttrBatch, w => new GetAttrBatchRequest(OpenFlags.Read, [dir + "/f", dir + "/none", dir]).Write(w));
        var batchReader = new BodyReader(attrBatch.Body);
        var answers = GetAttrBatchReply.Read(ref batchReader).Results;
        Assert.Equal([(LustreErrno)0, LustreErrno.ENOENT, LustreErrno.EISDIR], answers.Select(a => a.Status));
        Assert.Equal(opened.Fid, answers[0].Attributes!.Fid);
        await Call(Opcode.MdsRename, w => new RenameRequest(dir + "/f", dir + "/g").Write(w));
        await Call(Opcode.MdsStatFs);
        var templateBytes = LayoutCodec.Encode(FileLayout.Raid0(65536, 1));
        var extended = LayoutCodec.Decode(Attributes((await Call(Opcode.MdsMirror, w => new MirrorRequest(opened.Fid, MirrorOperation.Extend, 0, 0, templateBytes).Write(w))).Body).Layout);
        Assert.Equal([false, true], extended.Mirrors.Select(m => m.IsStale));
        var batchOpen = await Call(Opcode.MdsOpenBatch, w => new OpenBatchRequest(OpenFlags.Read, [opened.Fid, made.Fid, new LustreFid(0x200000400, 999_999, 0)]).Write(w));
        var batchOpenReader = new BodyReader(batchOpen.Body);
        var entries = OpenBatchReply.Read(ref batchOpenReader).Entries;
        Assert.Equal([(LustreErrno)0, LustreErrno.EISDIR, LustreErrno.ESTALE], entries.Select(e => e.Status));
        Assert.Equal(opened.Fid, entries[0].Attributes!.Fid);
        var renewed = Attributes((await Call(Opcode.MdsCapability, w => new CapabilityRequest(opened.Fid, OpenFlags.Read).Write(w))).Body);
        Assert.Equal(opened.Fid, renewed.Fid);
        Assert.Null(renewed.Capability); // a cluster without a key file issues none
        var plain = Attributes((await Call(Opcode.MdsOpen, w => new OpenRequest(dir + "/h", OpenFlags.Create, 0x1A4, []).Write(w))).Body);
        var begun = Migration((await Call(Opcode.MdsMigrate, w => new MigrateRequest(dir + "/h", default, MigrateOperation.Begin, MigrateFlags.None, 0, 0, templateBytes).Write(w))).Body);
        Assert.Equal((MigrateState.Copy, plain.Fid), (begun.State, begun.File.Fid));
        Assert.Equal(plain.Layout, begun.File.Layout);
        var kept = Migration((await Call(Opcode.MdsMigrate, w => new MigrateRequest(string.Empty, plain.Fid, MigrateOperation.Renew, MigrateFlags.None, begun.MigrationId, 0, []).Write(w))).Body);
        var swapped = Migration((await Call(Opcode.MdsMigrate, w => new MigrateRequest(string.Empty, plain.Fid, MigrateOperation.Swap, MigrateFlags.None, begun.MigrationId, kept.DataVersion, []).Write(w))).Body);
        Assert.Equal(MigrateState.Swapped, swapped.State);
        Assert.Equal(LayoutCodec.Decode(begun.NewLayout).AllObjects(), LayoutCodec.Decode(swapped.File.Layout).AllObjects());
        Assert.Empty((await Call(Opcode.MdsMigrate, w => new MigrateRequest(string.Empty, plain.Fid, MigrateOperation.Abort, MigrateFlags.None, begun.MigrationId, 0, []).Write(w))).Body);
        var pfl = LayoutCodec.Encode(FileLayout.Composite([new LayoutComponent(0, 65536, 65536, 1), new LayoutComponent(65536, LayoutComponent.Eof, 65536, 2)]));
        var lazy = Attributes((await Call(Opcode.MdsOpen, w => new OpenRequest(dir + "/p", OpenFlags.Create, 0x1A4, pfl).Write(w))).Body);
        Assert.Single(LayoutCodec.Decode(lazy.Layout).AllObjects());
        var instantiated = LayoutCodec.Decode(Attributes((await Call(Opcode.MdsLayout, w => new LayoutRequest(lazy.Fid, LayoutOperation.Instantiate, 65537, 0, ComponentSelection.ById, []).Write(w))).Body).Layout);
        Assert.Equal(3, instantiated.AllObjects().Count());
        Assert.Equal(1u, instantiated.Generation);
        await Call(Opcode.MdsUnlink, w => new PathRequest(dir + "/p").Write(w));
        var domLayout = LayoutCodec.Encode(FileLayout.Composite([LayoutComponent.DataOnMdt(65536)]));
        var dom = Attributes((await Call(Opcode.MdsOpen, w => new OpenRequest(dir + "/dom", OpenFlags.Create | OpenFlags.Write, 0x1A4, domLayout).Write(w))).Body);
        var domWrite = await peer.CallWithBulkAsync(Opcode.MdsDomWrite, w => new DomWriteRequest(dom.Fid, 3).Write(w), data);
        AssertOk(domWrite, Opcode.MdsDomWrite);
        seen.Add(Opcode.MdsDomWrite);
        var sizeReader = new BodyReader(domWrite.Body);
        Assert.Equal(13, DomWriteReply.Read(ref sizeReader).Size);
        var domRead = await Call(Opcode.MdsDomRead, w => new DomReadRequest(dom.Fid, 0, 100).Write(w));
        Assert.Equal([0, 0, 0, .. data], domRead.Bulk);
        var domBatch = await Call(Opcode.MdsDomReadBatch, w => new DomReadBatchRequest([new(dom.Fid, 10, 6), new(dom.Fid, 0, 4)]).Write(w));
        Assert.Equal([.. domRead.Bulk[10..13], 0, 0, 0, .. domRead.Bulk[..4]], domBatch.Bulk);
        await Call(Opcode.MdsStatAheadRelease, w => new StatAheadReleaseRequest(42).Write(w));
        await Call(Opcode.MdsClose, w => new CloseRequest(dom.Fid, true).Write(w));
        var onOpen = await Call(Opcode.MdsOpen, w => new OpenRequest(dir + "/dom", OpenFlags.Read, 0, [], 1 << 20).Write(w));
        Assert.Equal(13, Attributes(onOpen.Body).Size);
        Assert.Equal(domRead.Bulk, onOpen.Bulk); // read-on-open
        await Call(Opcode.MdsUnlink, w => new PathRequest(dir + "/dom").Write(w));
        await Call(Opcode.MdsUnlink, w => new PathRequest(dir + "/h").Write(w));
        await Call(Opcode.MdsUnlink, w => new PathRequest(dir + "/g").Write(w));
        await Call(Opcode.OstDestroy, w => obj.Write(w));
        await Call(Opcode.OstDestroyObjects, w => new OstDestroyObjectsRequest(obj.OstIndex, [obj.ObjectId, obj.ObjectId + 1_000_000]).Write(w));
        await Call(Opcode.MdsRmdir, w => new PathRequest(dir).Write(w));
        await Call(Opcode.MdsBackup, w => new MdtBackupRequest("opcode-" + Guid.NewGuid().ToString("N")).Write(w));
        await Call(Opcode.MdsDisconnect);

        var get = await Call(Opcode.GetParam, w => new GetParamRequest(GetParamFlags.None, 1 << 20, 0, ["mdt.*.uuid", "obdfilter.lustre-OST0000.job_cleanup_interval"]).Write(w));
        var getReader = new BodyReader(get.Body);
        var parameters = GetParamReply.Read(ref getReader, get.Bulk.Length);
        Assert.Equal(["mdt.lustre-MDT0000.uuid", "obdfilter.lustre-OST0000.job_cleanup_interval"], parameters.Entries.Select(e => e.Name));
        Assert.Equal("lustre-MDT0000_UUID600", System.Text.Encoding.UTF8.GetString(get.Bulk));
        var checkedSet = await Call(Opcode.SetParam, w => new SetParamRequest(CheckOnly: true, [("mdt.*.job_cleanup_interval", "30")]).Write(w));
        var setReader = new BodyReader(checkedSet.Body);
        Assert.Equal(LustreErrno.None, Assert.Single(SetParamReply.Read(ref setReader).Results).Status);
        var stored = await Call(Opcode.MgsParams, w => new MgsParamsRequest(MgsParamsOperation.Set, "opcode.test", "1").Write(w));
        var storedReader = new BodyReader(stored.Body);
        Assert.Contains(("opcode.test", "1"), MgsParamsReply.Read(ref storedReader).Params);
        var forgotten = await Call(Opcode.MgsParams, w => new MgsParamsRequest(MgsParamsOperation.Delete, "opcode.test", string.Empty).Write(w));
        var forgottenReader = new BodyReader(forgotten.Body);
        Assert.DoesNotContain(("opcode.test", "1"), MgsParamsReply.Read(ref forgottenReader).Params);

        // Auth is only meaningful on a server with a secret (RpcEngineTests); everything else was exercised here.
        var missing = Enum.GetValues<Opcode>().Where(o => o is not (Opcode.None or Opcode.Auth) && !seen.Contains(o)).ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public async Task Concurrent_metadata_changes_share_WAL_syncs()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var mdt = _fixture.Cluster.Node.Mdt!;
        var before = mdt.Commits;

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => _fixture.Client.CreateDirectoryAsync($"{dir}/d{i}")));

        var syncs = mdt.Commits - before;
        Assert.True(syncs < 200, $"200 concurrent mkdirs took {syncs} WAL syncs: no group commit");
        var names = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(dir))
        {
            names.Add(entry.Name);
        }

        Assert.Equal(200, names.Count);
    }
}
