using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Lustre.Protocol;

/// <summary>Writes the compact little-endian message body encoding into a buffer writer.</summary>
internal readonly ref struct BodyWriter
{
    private readonly IBufferWriter<byte> _output;

    public BodyWriter(IBufferWriter<byte> output) => _output = output;

    public void WriteByte(byte value)
    {
        _output.GetSpan(1)[0] = value;
        _output.Advance(1);
    }

    public void WriteBoolean(bool value) => WriteByte(value ? (byte)1 : (byte)0);

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_output.GetSpan(2), value);
        _output.Advance(2);
    }

    public void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_output.GetSpan(4), value);
        _output.Advance(4);
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_output.GetSpan(4), value);
        _output.Advance(4);
    }

    public void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_output.GetSpan(8), value);
        _output.Advance(8);
    }

    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_output.GetSpan(8), value);
        _output.Advance(8);
    }

    /// <summary>A string: u16 byte count, then UTF-8 bytes.</summary>
    public void WriteString(ReadOnlySpan<char> value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        if (count > ushort.MaxValue)
        {
            throw new ArgumentException($"A string of {count} UTF-8 bytes does not fit a message field (at most {ushort.MaxValue}).", nameof(value));
        }

        WriteUInt16((ushort)count);
        var span = _output.GetSpan(count);
        Encoding.UTF8.GetBytes(value, span);
        _output.Advance(count);
    }

    /// <summary>Bytes with no length before them (a fixed-size field such as a tag).</summary>
    public void WriteFixed(ReadOnlySpan<byte> value)
    {
        value.CopyTo(_output.GetSpan(value.Length));
        _output.Advance(value.Length);
    }

    /// <summary>A byte blob: i32 byte count, then the bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteInt32(value.Length);
        value.CopyTo(_output.GetSpan(value.Length));
        _output.Advance(value.Length);
    }
}
