using System.Buffers.Binary;
using Lustre.Protocol;

namespace Lustre.Tests.Protocol;

public class FrameHeaderTests
{
    private const int MaxBody = ProtocolLimits.MaxBodyLength;
    private const int MaxBulk = ProtocolLimits.MaxBulkLength;

    // Every field distinct and non-zero, so a swapped or dropped field cannot round-trip.
    private static readonly FrameHeader Sample = new(
        Opcode.OstRead, FrameFlags.Reply | FrameFlags.Resend, (int)LustreErrno.EBADMSG, 0xF1E2D3C4B5A69788, 1234, 56789, 0x0123456789ABCDEF);

    private static byte[] Encode(FrameHeader header)
    {
        var bytes = new byte[FrameHeader.Size];
        header.Write(bytes);
        return bytes;
    }

    [Fact]
    public void Header_round_trips_every_field()
    {
        var error = FrameHeader.TryRead(Encode(Sample), MaxBody, MaxBulk, out var read);

        Assert.Equal(FrameError.None, error);
        Assert.Equal(Sample, read);
        Assert.Equal(Opcode.OstRead, read.Opcode);
        Assert.Equal(FrameFlags.Reply | FrameFlags.Resend, read.Flags);
        Assert.Equal(74, read.Status);
        Assert.Equal(0xF1E2D3C4B5A69788, read.Xid);
        Assert.Equal(1234, read.BodyLength);
        Assert.Equal(56789, read.BulkLength);
        Assert.Equal(0x0123456789ABCDEFUL, read.BulkChecksum);
        Assert.True(read.IsReply);
    }

    [Fact]
    public void Header_is_exactly_40_bytes_and_starts_with_LSTR()
    {
        var bytes = new byte[FrameHeader.Size + 8];
        Array.Fill(bytes, (byte)0xEE);
        Sample.Write(bytes);

        Assert.Equal("LSTR"u8.ToArray(), bytes[..4]);
        Assert.All(bytes[FrameHeader.Size..], b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Write_into_fewer_than_40_bytes_throws()
    {
        Assert.Throws<ArgumentException>(() => Sample.Write(new byte[FrameHeader.Size - 1]));
    }

    [Fact]
    public void Lengths_exactly_at_the_limits_are_accepted()
    {
        var header = new FrameHeader(Opcode.OstWrite, FrameFlags.None, 0, 1, MaxBody, MaxBulk, 7);

        Assert.Equal(FrameError.None, FrameHeader.TryRead(Encode(header), MaxBody, MaxBulk, out var read));
        Assert.Equal(header, read);
    }

    [Fact]
    public void Unknown_opcode_and_flags_are_not_the_framing_layers_business()
    {
        // The header parser only checks what protects the stream; an unknown opcode is answered with ENOSYS later.
        var header = new FrameHeader((Opcode)999, (FrameFlags)0x8000, 0, 1, 0, 0, 0);

        Assert.Equal(FrameError.None, FrameHeader.TryRead(Encode(header), MaxBody, MaxBulk, out var read));
        Assert.Equal(header, read);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(FrameHeader.Size - 1)]
    public void TryRead_reports_truncated_when_fewer_than_40_bytes(int length)
    {
        var error = FrameHeader.TryRead(Encode(Sample).AsSpan(0, length), MaxBody, MaxBulk, out var header);

        Assert.Equal(FrameError.Truncated, error);
        Assert.Equal(default, header);
    }

    [Fact]
    public void TryRead_rejects_a_wrong_magic()
    {
        var bytes = Encode(Sample);
        bytes[0] = (byte)'X';

        Assert.Equal(FrameError.BadMagic, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Fact]
    public void TryRead_rejects_a_big_endian_magic()
    {
        var bytes = Encode(Sample);
        BinaryPrimitives.WriteUInt32BigEndian(bytes, FrameHeader.Magic);

        Assert.Equal(FrameError.BadMagic, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(0x0100)]
    public void TryRead_rejects_a_version_other_than_1(ushort version)
    {
        var bytes = Encode(Sample);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), version);

        Assert.Equal(FrameError.BadVersion, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Theory]
    [InlineData(MaxBody + 1)]
    [InlineData(int.MaxValue)]
    public void TryRead_rejects_a_body_length_over_the_limit(int bodyLength)
    {
        var bytes = Encode(Sample);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), bodyLength);

        Assert.Equal(FrameError.BodyTooLarge, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Fact]
    public void TryRead_applies_the_callers_body_limit()
    {
        var bytes = Encode(Sample);

        Assert.Equal(FrameError.BodyTooLarge, FrameHeader.TryRead(bytes, Sample.BodyLength - 1, MaxBulk, out _));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void TryRead_rejects_a_negative_body_length(int bodyLength)
    {
        var bytes = Encode(Sample);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(24), bodyLength);

        Assert.Equal(FrameError.BodyTooLarge, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Theory]
    [InlineData(MaxBulk + 1)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    public void TryRead_rejects_a_bulk_length_over_the_limit_or_negative(int bulkLength)
    {
        var bytes = Encode(Sample);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(28), bulkLength);

        Assert.Equal(FrameError.BulkTooLarge, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Fact]
    public void TryRead_with_a_zero_bulk_limit_rejects_any_bulk()
    {
        // The client reads handshake replies this way: they never carry bulk.
        Assert.Equal(FrameError.BulkTooLarge, FrameHeader.TryRead(Encode(Sample), MaxBody, 0, out _));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0x8000)]
    public void TryRead_rejects_a_non_zero_reserved_field(ushort reserved)
    {
        var bytes = Encode(Sample);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(10), reserved);

        Assert.Equal(FrameError.ReservedNotZero, FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out _));
    }

    [Fact]
    public void TryRead_leaves_the_header_default_on_any_error()
    {
        var bytes = Encode(Sample);
        bytes[4] = 9;

        FrameHeader.TryRead(bytes, MaxBody, MaxBulk, out var header);

        Assert.Equal(default, header);
    }
}
