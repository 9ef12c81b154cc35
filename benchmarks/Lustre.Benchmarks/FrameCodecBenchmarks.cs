using BenchmarkDotNet.Attributes;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Benchmarks;

/// <summary>
/// The per-RPC codec cost: a 40-byte header written and parsed (must not allocate), and a small
/// message body (an OST read request, the hottest request) encoded into a pooled frame and decoded.
/// </summary>
[MemoryDiagnoser]
public class FrameCodecBenchmarks
{
    private readonly byte[] _header = new byte[FrameHeader.Size];
    private readonly FrameHeader _sample = new(Opcode.OstRead, FrameFlags.None, 0, 0x1234_5678_9ABC, 24, 0, 0);
    private byte[] _readRequestBody = [];
    private byte[] _getAttrReplyBody = [];

    [GlobalSetup]
    public void Setup()
    {
        _sample.Write(_header);
        using (var frame = FrameBuffer.Rent())
        {
            new OstReadRequest(new ObjectRef(3, 77), 4L << 20, 4 << 20).Write(frame.Body);
            _readRequestBody = frame.Written[FrameHeader.Size..].ToArray();
        }

        using (var frame = FrameBuffer.Rent())
        {
            new InodeAttributes(LustreFid.Root, EntryType.File, 0x81A4, 1000, 1000, 1L << 30, 1, 1, 2, 3, new byte[64]).Write(frame.Body);
            _getAttrReplyBody = frame.Written[FrameHeader.Size..].ToArray();
        }
    }

    [Benchmark]
    public void HeaderWrite() => _sample.Write(_header);

    [Benchmark]
    public ulong HeaderTryRead()
    {
        FrameHeader.TryRead(_header, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header);
        return header.Xid;
    }

    [Benchmark]
    public ulong HeaderWriteThenTryRead()
    {
        _sample.Write(_header);
        FrameHeader.TryRead(_header, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header);
        return header.Xid;
    }

    /// <summary>What a client does per OST read: a pooled frame, the body, the header stamped.</summary>
    [Benchmark]
    public int OstReadRequestEncode()
    {
        using var frame = FrameBuffer.Rent();
        new OstReadRequest(new ObjectRef(3, 77), 4L << 20, 4 << 20).Write(frame.Body);
        frame.SetHeader(new FrameHeader(Opcode.OstRead, FrameFlags.None, 0, 42, frame.BodyLength, 0, 0));
        return frame.Written.Length;
    }

    [Benchmark]
    public long OstReadRequestDecode()
    {
        var reader = new BodyReader(_readRequestBody);
        return OstReadRequest.Read(ref reader).Offset;
    }

    /// <summary>A getattr reply: a record with a layout blob, so it allocates by design (the record and the array).</summary>
    [Benchmark]
    public long InodeAttributesDecode()
    {
        var reader = new BodyReader(_getAttrReplyBody);
        return InodeAttributes.Read(ref reader).Size;
    }
}
