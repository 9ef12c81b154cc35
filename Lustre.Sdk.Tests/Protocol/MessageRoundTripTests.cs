using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Protocol;

/// <summary>
/// Every message body written with its Write and read back with its Read gives the same value and consumes
/// exactly the bytes written. Field values are distinct and non-default so a dropped or swapped field shows.
/// </summary>
public class MessageRoundTripTests
{
    private delegate void WriteBody(BodyWriter writer);

    private delegate T ReadBody<T>(ref BodyReader reader);

    private static readonly LustreFid Fid = new(0x200000401, 0x2A, 0x3);

    private static T RoundTrip<T>(WriteBody write, ReadBody<T> read, int? expectedLength = null)
    {
        using var frame = FrameBuffer.Rent();
        write(frame.Body);
        var body = frame.Written[FrameHeader.Size..].ToArray();
        if (expectedLength is { } length)
        {
            Assert.Equal(length, body.Length);
        }

        var reader = new BodyReader(body);
        var value = read(ref reader);
        Assert.Equal(0, reader.Remaining);
        return value;
    }

    private static byte[] Bytes(int length, byte seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)(seed + (i * 7));
        }

        return bytes;
    }

    [Fact]
    public void ConnectRequest_round_trips()
    {
        var message = new ConnectRequest(1, ProtocolFeatures.ReplyReconstruction, "client-uuid-1");

        Assert.Equal(message, RoundTrip(message.Write, ConnectRequest.Read, 2 + 8 + 2 + 13));
    }

    [Fact]
    public void ConnectReply_round_trips()
    {
        var message = new ConnectReply(1, ProtocolFeatures.All, Bytes(ConnectReply.NonceLength, 11), true, 4 << 20, "lustre-OST0003");

        var read = RoundTrip(message.Write, ConnectReply.Read, 2 + 8 + 4 + 32 + 1 + 4 + 2 + 14);

        Assert.Equal(message.Nonce, read.Nonce);
        Assert.Equal(message, read with { Nonce = message.Nonce });
    }

    [Fact]
    public void AuthRequest_round_trips()
    {
        var message = new AuthRequest(Bytes(AuthRequest.ProofLength, 3), Bytes(ConnectReply.NonceLength, 4), "alice");

        var read = RoundTrip(message.Write, AuthRequest.Read, 4 + 32 + 4 + 32 + 2 + 5);
        Assert.Equal(message.Proof, read.Proof);
        Assert.Equal(message.ClientNonce, read.ClientNonce);
        Assert.Equal("alice", read.KeyName);
    }

    [Fact]
    public void AuthRequest_without_a_client_nonce_reads_as_an_empty_one()
    {
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        new BodyWriter(writer).WriteBytes(Bytes(AuthRequest.ProofLength, 3));
        var reader = new BodyReader(writer.WrittenSpan);
        var read = AuthRequest.Read(ref reader);
        Assert.Empty(read.ClientNonce);
        Assert.Equal(string.Empty, read.KeyName);
    }

    [Fact]
    public void AuthReply_round_trips()
    {
        var message = new AuthReply(Bytes(AuthRequest.ProofLength, 5));
        Assert.Equal(message.ServerProof, RoundTrip(message.Write, AuthReply.Read, 4 + 32).ServerProof);
    }

    [Fact]
    public void LustreFid_round_trips()
    {
        Assert.Equal(Fid, RoundTrip(Fid.Write, LustreFid.Read, 16));
    }

    [Fact]
    public void InodeAttributes_round_trip()
    {
        var message = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 123_456_789_012, 2, 1_700_000_000_000_000_001, 1_700_000_000_000_000_002, 1_700_000_000_000_000_003, Bytes(40, 5), InodeFlags.OpenForWrite);

        var read = RoundTrip(message.Write, InodeAttributes.Read, 16 + 1 + 4 + 4 + 4 + 8 + 4 + 8 + 8 + 8 + 4 + 40 + 4 + 4);

        Assert.Equal(message.Layout, read.Layout);
        Assert.Null(read.Capability);
        Assert.Equal(message, read with { Layout = message.Layout });
    }

    [Fact]
    public void InodeAttributes_with_a_capability_round_trip_and_the_capability_names_each_object()
    {
        OstObject[] objects = [new(0, 7), new(3, 9)];
        var capability = FileCapability.Encode(CapabilityRights.Read | CapabilityRights.Write, 1_700_000_000_000, objects, (obj, tag) => tag.Fill((byte)obj.ObjectId));
        var message = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 5, 1, 1, 2, 3, Bytes(40, 5), InodeFlags.None, capability);

        var read = RoundTrip(message.Write, InodeAttributes.Read, 16 + 1 + 4 + 4 + 4 + 8 + 4 + 8 + 8 + 8 + 4 + 40 + 4 + 4 + 1 + 8 + 4 + (2 * (4 + 8 + 16)));

        var decoded = FileCapability.Decode(read.Capability)!;
        Assert.Equal(CapabilityRights.Read | CapabilityRights.Write, decoded.Rights);
        Assert.Equal(1_700_000_000_000, decoded.ExpiresMs);
        Assert.All(objects, obj => Assert.True(decoded.Covers(obj)));
        Assert.False(decoded.Covers(new OstObject(0, 9)));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        decoded.WriteFor(new BodyWriter(buffer), objects[1]);
        Assert.Equal(FileCapability.OstFieldLength, buffer.WrittenCount);
        Assert.All(buffer.WrittenSpan[9..].ToArray(), b => Assert.Equal(9, b));
    }

    [Fact]
    public void InodeAttributes_of_a_directory_with_no_layout_round_trip()
    {
        var message = new InodeAttributes(Fid, EntryType.Directory, 0x41ED, 0, 0, 4096, 3, 1, 2, 3, []);

        var read = RoundTrip(message.Write, InodeAttributes.Read);

        Assert.Empty(read.Layout);
        Assert.Equal(message, read with { Layout = message.Layout });
    }

    [Fact]
    public void PathRequest_round_trips()
    {
        var message = new PathRequest("/data/shard-0001.tar");

        Assert.Equal(message, RoundTrip(message.Write, PathRequest.Read, 2 + 20));
    }

    [Fact]
    public void OpenRequest_round_trips()
    {
        var message = new OpenRequest("/ckpt/step-100/model.safetensors", OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, Bytes(24, 9));

        var read = RoundTrip(message.Write, OpenRequest.Read);

        Assert.Equal(message.Layout, read.Layout);
        Assert.Equal(message, read with { Layout = message.Layout });
    }

    [Fact]
    public void SetAttrRequest_round_trips()
    {
        var message = new SetAttrRequest(Fid, SetAttrMask.SizeAtLeast | SetAttrMask.ModifyTime | SetAttrMask.Gid, 1L << 40, 0x1ED, 42, 43, 1_700_000_000_000_000_005, 1_700_000_000_000_000_006);

        Assert.Equal(message, RoundTrip(message.Write, SetAttrRequest.Read, 16 + 4 + 8 + 4 + 4 + 4 + 8 + 8));
    }

    [Fact]
    public void ReadDirRequest_round_trips()
    {
        var message = new ReadDirRequest("/data", "shard-0511.tar", 256);

        Assert.Equal(message, RoundTrip(message.Write, ReadDirRequest.Read, 2 + 5 + 2 + 14 + 4));
    }

    [Fact]
    public void ReadDirReply_round_trips_entries_in_order()
    {
        var message = new ReadDirReply(
            [new DirEntry("a", EntryType.Directory, Fid), new DirEntry("b.bin", EntryType.File, Fid with { ObjectId = 0x2B }), new DirEntry("é", EntryType.File, LustreFid.Root)],
            false);

        var read = RoundTrip(message.Write, ReadDirReply.Read, 4 + (3 * 19) + 1 + 5 + 2 + 1);

        Assert.Equal(message.Entries, read.Entries);
        Assert.False(read.End);
    }

    [Fact]
    public void ReadDirReply_empty_last_page_round_trips()
    {
        var message = new ReadDirReply([], true);

        var read = RoundTrip(message.Write, ReadDirReply.Read, 4 + 1);

        Assert.Empty(read.Entries);
        Assert.True(read.End);
    }

    [Fact]
    public void ReadDirPlusRequest_round_trips()
    {
        var message = new ReadDirPlusRequest("/data", "shard-0511.tar", 1024, 262_144);

        Assert.Equal(message, RoundTrip(message.Write, ReadDirPlusRequest.Read, 2 + 5 + 2 + 14 + 4 + 4));
    }

    [Fact]
    public void ReadDirPlusReply_round_trips_names_and_attributes_in_order_and_counts_its_bytes()
    {
        var file = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 77, 1, 4, 5, 6, Bytes(40, 5), InodeFlags.OpenForWrite);
        var directory = new InodeAttributes(Fid with { ObjectId = 0x2B }, EntryType.Directory, 0x41ED, 0, 0, 4096, 3, 1, 2, 3, []);
        var message = new ReadDirPlusReply([new DirEntryPlus("a.bin", file), new DirEntryPlus("é", directory)], false);
        var length = ReadDirPlusReply.Overhead + message.Entries.Sum(e => e.EncodedLength);

        var read = RoundTrip(message.Write, ReadDirPlusReply.Read, length);

        Assert.Equal(4 + 1 + (2 + 5 + InodeAttributes.MinEncodedLength + 40) + (2 + 2 + InodeAttributes.MinEncodedLength), length);
        Assert.Equal(["a.bin", "é"], read.Entries.Select(e => e.Name));
        Assert.Equal(file.Layout, read.Entries[0].Attributes.Layout);
        Assert.Equal(file, read.Entries[0].Attributes with { Layout = file.Layout });
        Assert.Equal(directory, read.Entries[1].Attributes with { Layout = directory.Layout });
        Assert.False(read.End);
    }

    [Fact]
    public void GetAttrBatchRequest_round_trips_flags_and_paths_in_order()
    {
        var message = new GetAttrBatchRequest(OpenFlags.Read, ["/a", "/data/é", "/a"]);

        var read = RoundTrip(message.Write, GetAttrBatchRequest.Read, 4 + 4 + (2 + 2) + (2 + 8) + (2 + 2));

        Assert.Equal(OpenFlags.Read, read.Flags);
        Assert.Equal(message.Paths, read.Paths);
        Assert.False(read.Lease);
    }

    [Fact]
    public void GetAttrBatchRequest_asks_for_a_lease_in_a_trailing_byte_that_an_older_reader_ignores()
    {
        var message = new GetAttrBatchRequest(OpenFlags.None, ["/d/f.1", "/d/f.2"], Lease: true);

        var read = RoundTrip(message.Write, GetAttrBatchRequest.Read, 4 + 4 + (2 + 6) + (2 + 6) + 1);

        Assert.True(read.Lease);
        Assert.Equal(message.Paths, read.Paths);
    }

    [Fact]
    public void GetAttrBatchReply_carries_its_lease_in_microseconds_and_none_reads_as_zero()
    {
        var attributes = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 77, 1, 4, 5, 6, Bytes(40, 5));
        var leased = new GetAttrBatchReply([GetAttrResult.Ok(attributes)], TimeSpan.FromMilliseconds(100), 0xFEDCBA9876543210);
        var none = new GetAttrBatchReply(leased.Results);

        var read = RoundTrip(leased.Write, GetAttrBatchReply.Read, GetAttrBatchReply.Overhead + leased.Results[0].EncodedLength);
        Assert.Equal(TimeSpan.FromMilliseconds(100), read.Lease);
        Assert.Equal(0xFEDCBA9876543210, read.LeaseId);
        Assert.Equal(TimeSpan.Zero, RoundTrip(none.Write, GetAttrBatchReply.Read, 4 + none.Results[0].EncodedLength).Lease);
    }

    [Fact]
    public void GetAttrBatchRequest_asks_for_files_bytes_after_its_lease_only_with_opens_for_reading_and_within_bounds()
    {
        var message = new GetAttrBatchRequest(OpenFlags.Read, ["/d/f.1", "/d/f.2"], Lease: true, ReadOnOpen: 64 << 10);
        var read = RoundTrip(message.Write, GetAttrBatchRequest.Read, 4 + 4 + (2 + 6) + (2 + 6) + 1 + 4);
        Assert.Equal(64 << 10, read.ReadOnOpen);

        // The numbered form writes the same bytes.
        using (var frame = FrameBuffer.Rent())
        {
            GetAttrBatchRequest.WriteNumbered(frame.Body, "/d/f.", 1, 2, 0, OpenFlags.Read, 64 << 10);
            var reader = new BodyReader(frame.Written.Span[FrameHeader.Size..]);
            Assert.Equal(message with { Paths = read.Paths }, GetAttrBatchRequest.Read(ref reader) with { Paths = read.Paths });
        }

        foreach (var (flags, bytes, field) in new[] { (OpenFlags.None, 100, "Read flag"), (OpenFlags.Read, -1, "read_on_open"), (OpenFlags.Read, GetAttrBatchRequest.MaxReadOnOpen + 1, "read_on_open") })
        {
            using var frame = FrameBuffer.Rent();
            frame.Body.WriteUInt32((uint)flags);
            frame.Body.WriteInt32(1);
            frame.Body.WriteString("/d/f.1");
            frame.Body.WriteBoolean(true);
            frame.Body.WriteInt32(bytes);
            var body = frame.Written[FrameHeader.Size..].ToArray();
            var ex = Assert.Throws<ProtocolException>(() =>
            {
                var reader = new BodyReader(body);
                GetAttrBatchRequest.Read(ref reader);
            });
            Assert.Contains(field, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void GetAttrBatchReply_data_is_kept_only_where_it_is_exactly_its_answer_s_size_and_absent_data_reads_as_none()
    {
        var small = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 3, 1, 4, 5, 6, []);
        using var frame = FrameBuffer.Rent();
        frame.Body.WriteBytes([1, 2, 3]);
        frame.Body.WriteBytes([]);
        frame.Body.WriteBytes([7, 8]);
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var reader = new BodyReader(body);
        var data = GetAttrBatchReply.ReadData(ref reader, 3, 64, small, [null, small, small]);
        Assert.Equal([1, 2, 3], data[0]![..3]);
        Assert.Null(data[1]);
        Assert.Null(data[2]);
        Assert.Equal(0, reader.Remaining);

        var none = new BodyReader([]);
        Assert.All(GetAttrBatchReply.ReadData(ref none, 2, 64, small, [null, small]), Assert.Null);

        Assert.Throws<ProtocolException>(() =>
        {
            var tooLong = new BodyReader(body);
            GetAttrBatchReply.ReadData(ref tooLong, 3, 2, small, [null, small, small]);
        });
    }

    [Fact]
    public void StatAheadReleaseRequest_round_trips_its_lease_id()
    {
        Assert.Equal(0x0123456789ABCDEFUL, RoundTrip(new StatAheadReleaseRequest(0x0123456789ABCDEFUL).Write, StatAheadReleaseRequest.Read, 8).LeaseId);
    }

    [Fact]
    public void GetAttrBatchReply_round_trips_answers_and_errors_in_order_and_counts_its_bytes()
    {
        var attributes = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 77, 1, 4, 5, 6, Bytes(40, 5));
        var message = new GetAttrBatchReply([GetAttrResult.Ok(attributes), GetAttrResult.Failed(LustreErrno.ENOENT, "'/b': no such file or directory"), GetAttrResult.Failed(LustreErrno.EACCES, new string('x', 5000))]);

        var read = RoundTrip(message.Write, GetAttrBatchReply.Read, 4 + message.Results.Sum(r => r.EncodedLength));

        Assert.Equal((LustreErrno)0, read.Results[0].Status);
        Assert.Equal(attributes, read.Results[0].Attributes! with { Layout = attributes.Layout });
        Assert.Equal(LustreErrno.ENOENT, read.Results[1].Status);
        Assert.Null(read.Results[1].Attributes);
        Assert.Equal("'/b': no such file or directory", read.Results[1].Message);
        Assert.Equal(GetAttrResult.MaxMessageLength, read.Results[2].Message.Length);
    }

    [Fact]
    public void GetAttrResult_with_a_negative_status_is_refused()
    {
        using var frame = FrameBuffer.Rent();
        frame.Body.WriteInt32(1);
        frame.Body.WriteInt32(-2);
        frame.Body.WriteString("x");
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var ex = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            GetAttrBatchReply.Read(ref reader);
        });

        Assert.Contains("'status'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MkdirRequest_round_trips()
    {
        var message = new MkdirRequest("/data/new", 0x1ED);

        Assert.Equal(message, RoundTrip(message.Write, MkdirRequest.Read, 2 + 9 + 4));
    }

    [Fact]
    public void RenameRequest_round_trips()
    {
        var message = new RenameRequest("/ckpt/tmp-100", "/ckpt/step-100");

        Assert.Equal(message, RoundTrip(message.Write, RenameRequest.Read, 2 + 13 + 2 + 14));
    }

    [Fact]
    public void SetDirLayoutRequest_round_trips()
    {
        var message = new SetDirLayoutRequest("/data", Bytes(33, 1));

        var read = RoundTrip(message.Write, SetDirLayoutRequest.Read, 2 + 5 + 4 + 33);

        Assert.Equal(message.Layout, read.Layout);
        Assert.Equal(message.Path, read.Path);
    }

    [Fact]
    public void StatFsReply_round_trips()
    {
        var message = new StatFsReply(1L << 42, 1L << 41, (1L << 41) - 17, 123_456, 987_654, Lustre.Client.LustreTargetState.NoSpace | Lustre.Client.LustreTargetState.NonRotational);

        Assert.Equal(message, RoundTrip(message.Write, StatFsReply.Read, 44));
    }

    [Fact]
    public void StatFsReply_of_an_older_server_has_no_free_objects_or_state()
    {
        var older = new StatFsReply(1L << 42, 1L << 41, (1L << 41) - 17, 123_456);

        // The four fields an older server writes: free objects and state are trailing fields it does not know.
        var read = RoundTrip(
            writer =>
            {
                writer.WriteInt64(older.TotalBytes);
                writer.WriteInt64(older.AvailableBytes);
                writer.WriteInt64(older.UsedBytes);
                writer.WriteInt64(older.Objects);
            },
            StatFsReply.Read,
            32);

        Assert.Equal(older, read);
        Assert.Equal((0, Lustre.Client.LustreTargetState.None), (read.FreeObjects, read.State));
    }

    [Fact]
    public void TargetRecord_round_trips()
    {
        var message = new TargetRecord(TargetKind.Ost, 7, "10.0.0.7:9883", true);

        Assert.Equal(message, RoundTrip(message.Write, TargetRecord.Read, 1 + 4 + 2 + 13 + 1));
    }

    [Fact]
    public void RegisterTargetRequest_round_trips()
    {
        var message = new RegisterTargetRequest(new TargetRecord(TargetKind.Mdt, 0, "mds.local:9881", false));

        Assert.Equal(message, RoundTrip(message.Write, RegisterTargetRequest.Read));
    }

    [Fact]
    public void FilesystemConfig_round_trips_targets_in_order()
    {
        var message = new FilesystemConfig(
            "lustre",
            0x0102030405060708,
            1 << 20,
            -1,
            [new TargetRecord(TargetKind.Mdt, 0, "127.0.0.1:9881", true), new TargetRecord(TargetKind.Ost, 1, "127.0.0.1:9883", false)])
        {
            Pools = [new OstPoolRecord("flash", [1, 3]), new OstPoolRecord("new", [])],
        };

        var read = RoundTrip(message.Write, FilesystemConfig.Read);

        Assert.Equal(message.Targets, read.Targets);
        Assert.Equal(["flash", "new"], read.Pools.Select(p => p.Name));
        Assert.Equal([1, 3], read.Pools[0].Osts);
        Assert.Empty(read.Pools[1].Osts);
        Assert.Equal(message, read with { Targets = message.Targets, Pools = message.Pools });
    }

    [Fact]
    public void FilesystemConfig_from_a_server_without_pools_has_none()
    {
        var message = new FilesystemConfig("lustre", 3, 1 << 20, 1, [new TargetRecord(TargetKind.Ost, 0, "127.0.0.1:9883", true)]);
        using var frame = FrameBuffer.Rent();
        message.Write(frame.Body);

        // The pool count is the last 4 bytes of a configuration without pools: an older MGS does not send them.
        var body = frame.Written[FrameHeader.Size..^4].ToArray();
        var reader = new BodyReader(body);
        var read = FilesystemConfig.Read(ref reader);

        Assert.Empty(read.Pools);
        Assert.Equal(message.Targets, read.Targets);
        Assert.Null(read.FindPool("flash"));
    }

    [Fact]
    public void PoolRequest_round_trips()
    {
        var message = new PoolRequest(PoolOperation.Remove, "flash", 0x1F);

        Assert.Equal(message, RoundTrip(message.Write, PoolRequest.Read, 1 + 2 + 5 + 4));
    }

    [Fact]
    public void PoolRequest_with_an_unknown_operation_is_refused()
    {
        using var frame = FrameBuffer.Rent();
        new PoolRequest((PoolOperation)9, "flash", -1).Write(frame.Body);
        var body = frame.Written[FrameHeader.Size..].ToArray();

        var error = Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            PoolRequest.Read(ref reader);
        });
        Assert.Contains("pool operation 9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SetTargetStateRequest_round_trips()
    {
        var message = new SetTargetStateRequest(TargetKind.Ost, 12, true);

        Assert.Equal(message, RoundTrip(message.Write, SetTargetStateRequest.Read, 1 + 4 + 1));
    }

    [Fact]
    public void ObjectRef_round_trips()
    {
        var message = new ObjectRef(3, 0xDEADBEEF00000001);

        Assert.Equal(message, RoundTrip(message.Write, ObjectRef.Read, 12));
    }

    [Fact]
    public void OstReadRequest_round_trips()
    {
        var message = new OstReadRequest(new ObjectRef(2, 77), 3L << 32, 4 << 20);

        Assert.Equal(message, RoundTrip(message.Write, OstReadRequest.Read, 12 + 8 + 4));
    }

    [Fact]
    public void OstWriteRequest_round_trips()
    {
        var message = new OstWriteRequest(new ObjectRef(5, 78), (1L << 33) + 4096);

        Assert.Equal(message, RoundTrip(message.Write, OstWriteRequest.Read, 12 + 8));
    }

    [Fact]
    public void OstPunchRequest_round_trips()
    {
        var message = new OstPunchRequest(new ObjectRef(6, 79), 12345);

        Assert.Equal(message, RoundTrip(message.Write, OstPunchRequest.Read, 12 + 8));
    }

    [Fact]
    public void OstAttrReply_round_trips()
    {
        var message = new OstAttrReply(true, 10_000_000, 10_485_760);

        Assert.Equal(message, RoundTrip(message.Write, OstAttrReply.Read, 1 + 8 + 8));
    }

    [Fact]
    public void OstIndexRequest_round_trips()
    {
        var message = new OstIndexRequest(9);

        Assert.Equal(message, RoundTrip(message.Write, OstIndexRequest.Read, 4));
    }

    [Fact]
    public void MigrateRequest_round_trips()
    {
        var message = new MigrateRequest("/data/f", Fid, MigrateOperation.Swap, MigrateFlags.NonBlock, 0x1122334455667788, 42, Bytes(30, 5));

        var read = RoundTrip(message.Write, MigrateRequest.Read, 2 + 7 + 16 + 1 + 1 + 8 + 8 + 4 + 30);

        Assert.Equal(message with { Template = read.Template }, read);
        Assert.Equal(message.Template, read.Template);
    }

    [Fact]
    public void MigrateReply_round_trips_and_an_unknown_state_is_refused()
    {
        var file = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, Bytes(20, 1), InodeFlags.OpenForWrite, Bytes(13, 9));
        var message = new MigrateReply(MigrateState.Draining, 7, 9, 60_000, file, Bytes(24, 3));

        var read = RoundTrip(message.Write, MigrateReply.Read);

        Assert.Equal((message.State, message.MigrationId, message.DataVersion, message.LeaseMs), (read.State, read.MigrationId, read.DataVersion, read.LeaseMs));
        Assert.Equal((file.Fid, file.Size, file.Flags), (read.File.Fid, read.File.Size, read.File.Flags));
        Assert.Equal(file.Layout, read.File.Layout);
        Assert.Equal(file.Capability, read.File.Capability);
        Assert.Equal(message.NewLayout, read.NewLayout);

        using var frame = FrameBuffer.Rent();
        (message with { State = (MigrateState)9 }).Write(frame.Body);
        var body = frame.Written[FrameHeader.Size..].ToArray();
        Assert.Throws<ProtocolException>(() =>
        {
            var reader = new BodyReader(body);
            MigrateReply.Read(ref reader);
        });
    }

    [Fact]
    public void OstReadBatchRequest_round_trips()
    {
        var message = new OstReadBatchRequest(7, [new ObjectRange(80, 1L << 33, 4096), new ObjectRange(81, 0, 0), new ObjectRange(80, 100, 65536)]);

        var read = RoundTrip(message.Write, OstReadBatchRequest.Read, 4 + 4 + (3 * ObjectRange.Size));

        Assert.Equal(7, read.OstIndex);
        Assert.Equal(message.Ranges, read.Ranges);
        Assert.Equal(4096 + 65536, read.TotalLength);
    }

    [Fact]
    public void Batch_reads_reply_bulk_is_summed_from_the_encoded_body_as_the_read_request_sums_it()
    {
        var ost = new OstReadBatchRequest(7, [new ObjectRange(80, 1L << 33, 4096), new ObjectRange(81, 0, 0), new ObjectRange(80, 100, 65536)]);
        var dom = new DomReadBatchRequest([new DomReadRequest(new LustreFid(0x200000400, 5, 0), 0, 4096), new DomReadRequest(new LustreFid(0x200000400, 6, 0), 10, -7), new DomReadRequest(new LustreFid(0x200000400, 5, 0), 100, 300)]);
        var ostBody = Encode(ost.Write);
        var domBody = Encode(dom.Write);

        Assert.Equal(4096 + 65536, OstReadBatchRequest.TotalLengthOf(ostBody));
        Assert.Equal(4096 + 300, DomReadBatchRequest.TotalLengthOf(domBody));

        // Cut short or with a count past the limit: refused as reading the request refuses it.
        Assert.Throws<ProtocolException>(() => OstReadBatchRequest.TotalLengthOf(ostBody.AsSpan(0, ostBody.Length - 1)));
        Assert.Throws<ProtocolException>(() => DomReadBatchRequest.TotalLengthOf(domBody.AsSpan(0, 10)));
        var tooMany = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(tooMany, DomReadBatchRequest.MaxRanges + 1);
        Assert.Throws<ProtocolException>(() => DomReadBatchRequest.TotalLengthOf(tooMany));

        static byte[] Encode(WriteBody write)
        {
            using var frame = FrameBuffer.Rent();
            write(frame.Body);
            return frame.Written[FrameHeader.Size..].ToArray();
        }
    }

    [Fact]
    public void OpenBatchRequest_round_trips()
    {
        var message = new OpenBatchRequest(OpenFlags.Read, [Fid, LustreFid.Root, new LustreFid(9, 8, 7)]);

        var read = RoundTrip(message.Write, OpenBatchRequest.Read, 4 + 4 + (3 * 16));

        Assert.Equal(OpenFlags.Read, read.Flags);
        Assert.Equal(message.Fids, read.Fids);
    }

    [Fact]
    public void OpenBatchReply_round_trips_and_each_entry_is_as_long_as_it_says()
    {
        var capability = FileCapability.Encode(CapabilityRights.Read, 1_700_000_000_000, [new OstObject(1, 2)], (_, tag) => tag.Fill(3));
        var opened = new InodeAttributes(Fid, EntryType.File, 0x81A4, 1000, 1001, 5, 1, 1, 2, 3, Bytes(40, 5), InodeFlags.None, capability);
        var message = new OpenBatchReply([new OpenBatchEntry(0, string.Empty, opened), OpenBatchEntry.Failed(LustreErrno.ESTALE, "no inode é")]);

        var read = RoundTrip(message.Write, OpenBatchReply.Read, 4 + message.Entries[0].EncodedLength + message.Entries[1].EncodedLength);

        Assert.Equal(2, read.Entries.Count);
        Assert.Equal(opened with { Layout = read.Entries[0].Attributes!.Layout, Capability = read.Entries[0].Attributes!.Capability }, read.Entries[0].Attributes);
        Assert.Equal(opened.Layout, read.Entries[0].Attributes!.Layout);
        Assert.Equal(capability, read.Entries[0].Attributes!.Capability);
        Assert.Equal((LustreErrno.ESTALE, "no inode é", (InodeAttributes?)null), (read.Entries[1].Status, read.Entries[1].Message, read.Entries[1].Attributes));
    }
}
