using System.Globalization;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Xunit.Abstractions;

namespace Lustre.Tests.Protocol;

/// <summary>
/// In-process fuzzing of every decoder that reads bytes from the wire: the frame header, every message body and
/// the layout codec. Inputs are seeded mutations of valid encodings (plus pure noise). A decoder may accept an
/// input or refuse it with its documented exception (<see cref="ProtocolException"/>, or
/// <see cref="InvalidDataException"/> for layouts); anything else is a bug. No input may make a decoder allocate
/// more than a small multiple of its length. CI runs a bounded count; the full run:
/// <c>LUSTRE_FUZZ_INPUTS=2000000 dotnet test Lustre.Sdk.Tests --filter DecoderFuzz</c>.
/// </summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    /// <summary>Decodes; false (or a documented exception) when the input is refused.</summary>
    private delegate bool Decode(ReadOnlySpan<byte> input);

    private static int Inputs => int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_FUZZ_INPUTS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 200_000;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 9090;

    private static readonly LustreFid Fid = new(0x200000401, 7, 0);

    private static byte[] Body(Action<BodyWriter> write)
    {
        using var frame = FrameBuffer.Rent();
        write(frame.Body);
        return frame.Written[FrameHeader.Size..].ToArray();
    }

    private static byte[] Layout(FileLayout layout)
    {
        var bytes = new byte[LayoutCodec.GetEncodedLength(layout)];
        LayoutCodec.Encode(layout, bytes);
        return bytes;
    }

    private static byte[] StripedLayout() => Layout(FileLayout.Raid0(1 << 20, 2).WithComponents(
        [FileLayout.Raid0(1 << 20, 2).Components[0].WithObjects([new OstObject(0, 5), new OstObject(1, 9)])]));

    private static byte[] CompositeLayout() => Layout(FileLayout.Composite(
    [
        new LayoutComponent(0, 1 << 20, 1 << 20, 1, -1),
        new LayoutComponent(1 << 20, 64L << 20, 1 << 20, 2, -1),
        new LayoutComponent(64L << 20, LayoutComponent.Eof, 4 << 20, -1, -1),
    ]));

    private static byte[] DomLayout() => Layout(FileLayout.Composite([LayoutComponent.DataOnMdt(64 << 10, 0), new LayoutComponent(64 << 10, LayoutComponent.Eof, 1 << 20, 1, 0, [new OstObject(0, 5)])]));

    private static byte[] HeaderBytes(Opcode opcode, FrameFlags flags, int status, int body, int bulk)
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(opcode, flags, status, 42, body, bulk, bulk == 0 ? 0UL : 0x1234UL).Write(bytes);
        return bytes;
    }

    /// <summary>Every decoder with valid seed inputs.</summary>
    private static List<(string Name, Decode Decode, byte[][] Seeds)> Decoders()
    {
        static Decode Message<T>(BodyReaderFunc<T> read) => input =>
        {
            var reader = new BodyReader(input);
            _ = read(ref reader);
            return true;
        };

        var layout = StripedLayout();
        return
        [
            ("FrameHeader.TryRead", input =>
            {
                var error = FrameHeader.TryRead(input, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header);
                if (error == FrameError.None)
                {
                    Assert.InRange(header.BodyLength, 0, ProtocolLimits.MaxBodyLength);
                    Assert.InRange(header.BulkLength, 0, ProtocolLimits.MaxBulkLength);
                }

                return error == FrameError.None;
            }, [HeaderBytes(Opcode.OstWrite, FrameFlags.None, 0, 20, 4096), HeaderBytes(Opcode.MdsGetAttr, FrameFlags.Reply, 2, 14, 0)]),
            ("error message", input =>
            {
                var reader = new BodyReader(input);
                _ = reader.ReadString("message", 4096);
                return true;
            }, [Body(w => w.WriteString("no such file"))]),
            ("ConnectRequest", Message(ConnectRequest.Read), [Body(new ConnectRequest(1, ProtocolFeatures.All, "6f2c1a4e-8b3d-4e5f-9a7b-0c1d2e3f4a5b").Write)]),
            ("ConnectReply", Message(ConnectReply.Read), [Body(new ConnectReply(1, ProtocolFeatures.All, new byte[32], true, 16 << 20, "lustre-OST0000").Write)]),
            ("AuthRequest", Message(AuthRequest.Read), [Body(new AuthRequest(new byte[32], new byte[32]).Write)]),
            ("AuthReply", Message(AuthReply.Read), [Body(new AuthReply(new byte[32]).Write)]),
            ("LustreFid", Message(LustreFid.Read), [Body(Fid.Write)]),
            ("InodeAttributes", Message(InodeAttributes.Read), [Body(new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, layout, InodeFlags.OpenForWrite).Write), Body(new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, layout, InodeFlags.None, FileCapability.Encode(CapabilityRights.Write, 9, [new(2, 3)], (_, tag) => tag.Fill(1))).Write)]),
            ("CloseRequest", Message(CloseRequest.Read), [Body(new CloseRequest(Fid, true).Write)]),
            ("MigrateRequest", Message(MigrateRequest.Read), [Body(new MigrateRequest("/data/f", Fid, MigrateOperation.Begin, MigrateFlags.NonBlock, 7, 9, CompositeLayout()).Write)]),
            ("MigrateReply", Message(MigrateReply.Read), [Body(new MigrateReply(MigrateState.Copy, 7, 9, 60_000, new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, layout), layout).Write)]),
            ("CapabilityRequest", Message(CapabilityRequest.Read), [Body(new CapabilityRequest(Fid, OpenFlags.Read | OpenFlags.Write).Write)]),
            ("FileCapability.Decode", input => FileCapability.Decode(input) is not null || input.Length == 0, [FileCapability.Encode(CapabilityRights.Read, 1_700_000_000_000, [new(0, 7), new(1, 8)], (_, tag) => tag.Fill(0xA5))]),
            ("PathRequest", Message(PathRequest.Read), [Body(new PathRequest("/data/shard-0001.tar").Write), Body(new PathRequest("/é/日本").Write)]),
            ("OpenRequest", Message(OpenRequest.Read), [Body(new OpenRequest("/ckpt/model.bin", OpenFlags.Create | OpenFlags.Write, 0x1A4, CompositeLayout()).Write), Body(new OpenRequest("/data/small.jpg", OpenFlags.Read, 0, [], 1 << 20).Write)]),
            ("OpenRequest.ReplyBulkBytes", input =>
            {
                var bytes = OpenRequest.ReplyBulkBytes(input);
                Assert.InRange(bytes, 0, ProtocolLimits.MaxBulkLength);
                return bytes > 0;
            }, [Body(new OpenRequest("/data/small.jpg", OpenFlags.Read, 0, DomLayout(), 1 << 20).Write)]),
            ("DomReadRequest", Message(DomReadRequest.Read), [Body(new DomReadRequest(Fid, 4096, 60_000).Write)]),
            ("DomWriteRequest", Message(DomWriteRequest.Read), [Body(new DomWriteRequest(Fid, 4096).Write)]),
            ("DomWriteReply", Message(DomWriteReply.Read), [Body(new DomWriteReply(65_536).Write)]),
            ("SetAttrRequest", Message(SetAttrRequest.Read), [Body(new SetAttrRequest(Fid, SetAttrMask.SizeAtLeast | SetAttrMask.ModifyTime, 1 << 30, 0, 0, 0, 0, 9).Write)]),
            ("ReadDirRequest", Message(ReadDirRequest.Read), [Body(new ReadDirRequest("/data", "shard-0511", 512).Write)]),
            ("ReadDirReply", Message(ReadDirReply.Read), [Body(new ReadDirReply([new DirEntry("a", EntryType.File, Fid), new DirEntry("sub", EntryType.Directory, Fid)], false).Write)]),
            ("ReadDirPlusRequest", Message(ReadDirPlusRequest.Read), [Body(new ReadDirPlusRequest("/data", "shard-0511", 1024, 262_144).Write)]),
            ("ReadDirPlusReply", Message(ReadDirPlusReply.Read), [Body(new ReadDirPlusReply([new DirEntryPlus("a", new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, layout)), new DirEntryPlus("sub", new InodeAttributes(Fid, EntryType.Directory, 0x41ED, 1, 2, 0, 2, 3, 4, 5, CompositeLayout()))], false).Write)]),
            ("GetAttrBatchRequest", Message(GetAttrBatchRequest.Read), [Body(new GetAttrBatchRequest(OpenFlags.Read, ["/data/sample-000001.jpg", "/data/é"]).Write)]),
            ("GetAttrBatchReply", Message(GetAttrBatchReply.Read), [Body(new GetAttrBatchReply([GetAttrResult.Ok(new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, layout)), GetAttrResult.Failed(LustreErrno.ENOENT, "no such file")]).Write)]),
            ("MkdirRequest", Message(MkdirRequest.Read), [Body(new MkdirRequest("/data/new", 0x1ED).Write)]),
            ("RenameRequest", Message(RenameRequest.Read), [Body(new RenameRequest("/a/b", "/c/d").Write)]),
            ("SetDirLayoutRequest", Message(SetDirLayoutRequest.Read), [Body(new SetDirLayoutRequest("/data", CompositeLayout()).Write)]),
            ("StatFsReply", Message(StatFsReply.Read), [Body(new StatFsReply(1L << 40, 1L << 39, 1L << 39, 1000).Write)]),
            ("TargetRecord", Message(TargetRecord.Read), [Body(new TargetRecord(TargetKind.Ost, 3, "127.0.0.1:9880", true).Write)]),
            ("RegisterTargetRequest", Message(RegisterTargetRequest.Read), [Body(new RegisterTargetRequest(new TargetRecord(TargetKind.Mdt, 0, "10.0.0.1:988", true)).Write)]),
            ("FilesystemConfig", Message(FilesystemConfig.Read), [Body(new FilesystemConfig("lustre", 7, 4 << 20, 1, [new TargetRecord(TargetKind.Mdt, 0, "127.0.0.1:1", true), new TargetRecord(TargetKind.Ost, 0, "127.0.0.1:2", false)]) { Pools = [new OstPoolRecord("flash", [0, 2]), new OstPoolRecord("empty", [])] }.Write)]),
            ("PoolRequest", Message(PoolRequest.Read), [Body(new PoolRequest(PoolOperation.Add, "flash", 3).Write)]),
            ("SetTargetStateRequest", Message(SetTargetStateRequest.Read), [Body(new SetTargetStateRequest(TargetKind.Ost, 1, false).Write)]),
            ("ObjectRef", Message(ObjectRef.Read), [Body(new ObjectRef(1, 99).Write)]),
            ("OstReadRequest", Message(OstReadRequest.Read), [Body(new OstReadRequest(new ObjectRef(1, 99), 4096, 1 << 20).Write)]),
            ("OstWriteRequest", Message(OstWriteRequest.Read), [Body(new OstWriteRequest(new ObjectRef(1, 99), 4096).Write)]),
            ("OstPunchRequest", Message(OstPunchRequest.Read), [Body(new OstPunchRequest(new ObjectRef(1, 99), 0).Write)]),
            ("OstAttrReply", Message(OstAttrReply.Read), [Body(new OstAttrReply(true, 10, 4096).Write)]),
            ("OstIndexRequest", Message(OstIndexRequest.Read), [Body(new OstIndexRequest(2).Write)]),
            ("OstDestroyObjectsRequest", Message(OstDestroyObjectsRequest.Read), [Body(new OstDestroyObjectsRequest(2, [7, 8, 9]).Write)]),
            ("OstReadBatchRequest", Message(OstReadBatchRequest.Read), [Body(new OstReadBatchRequest(2, [new(7, 0, 4096), new(8, 1 << 20, 100)]).Write)]),
            ("OpenBatchRequest", Message(OpenBatchRequest.Read), [Body(new OpenBatchRequest(OpenFlags.Read, [Fid, LustreFid.Root]).Write)]),
            ("OpenBatchReply", Message(OpenBatchReply.Read), [Body(new OpenBatchReply([new OpenBatchEntry(0, string.Empty, new InodeAttributes(Fid, EntryType.File, 0x81A4, 1, 2, 4096, 1, 3, 4, 5, layout)), OpenBatchEntry.Failed(LustreErrno.ESTALE, "gone")]).Write)]),
            ("LayoutCodec.Decode", input => LayoutCodec.Decode(input) is not null, [layout, CompositeLayout(), Layout(FileLayout.Raid0()), Layout(FileLayout.Raid0(pool: "flash")), DomLayout()]),
            ("LayoutCodec.DataOnMdtEnd", input =>
            {
                var end = LayoutCodec.DataOnMdtEnd(input);
                Assert.InRange(end, 0, LayoutDefaults.MaxDataOnMdtSize);
                return end > 0;
            }, [DomLayout(), layout]),
        ];
    }

    private delegate T BodyReaderFunc<T>(ref BodyReader reader);

    [Fact]
    public void Every_decoder_accepts_or_refuses_mutated_input_with_its_own_exception_and_bounded_allocation()
    {
        var decoders = Decoders();
        var mutator = new FrameMutator(Seed);
        var accepted = new long[decoders.Count];
        var refused = new long[decoders.Count];
        long worstAllocation = 0;
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < Inputs; i++)
        {
            var d = i % decoders.Count;
            var (name, decode, seeds) = decoders[d];
            var seed = seeds[mutator.Next(seeds.Length)];
            var input = mutator.Next(50) == 0 ? mutator.Noise(256) : mutator.Mutate(seed, decoders[mutator.Next(decoders.Count)].Seeds[0]);
            var before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                if (decode(input))
                {
                    accepted[d]++;
                }
                else
                {
                    refused[d]++;
                }
            }
            catch (ProtocolException)
            {
                refused[d]++;
            }
            catch (InvalidDataException) when (name == "LayoutCodec.Decode")
            {
                refused[d]++;
            }
            catch (Exception ex)
            {
                Assert.Fail($"{name} threw {ex.GetType().Name} on input {i} (seed {Seed}): {Convert.ToHexString(input)}\n{ex}");
            }

            // Results (strings, arrays, lists) are at most a few times the input; a length believed from the wire would be far more.
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            worstAllocation = Math.Max(worstAllocation, allocated);
            Assert.True(allocated <= 16_384 + (16L * input.Length), $"{name} allocated {allocated} bytes for a {input.Length}-byte input {i} (seed {Seed}): {Convert.ToHexString(input)}");
        }

        for (var d = 0; d < decoders.Count; d++)
        {
            output.WriteLine($"{decoders[d].Name}: {accepted[d]} accepted, {refused[d]} refused");
            Assert.True(refused[d] > 0, $"{decoders[d].Name} refused nothing: the mutator is not reaching it");
        }

        output.WriteLine($"{Inputs} inputs in {started.Elapsed.TotalSeconds:0.0} s, seed {Seed}; worst allocation {worstAllocation} bytes");
    }
}
