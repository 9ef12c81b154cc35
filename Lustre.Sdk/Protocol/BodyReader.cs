using System.Buffers.Binary;
using System.Text;

namespace Lustre.Protocol;

/// <summary>
/// Reads a message body in place. Every read checks the bytes that remain and every length
/// is checked against a limit before use: a malformed body is a <see cref="ProtocolException"/>
/// naming the field, never an out-of-range read or a huge allocation.
/// </summary>
internal ref struct BodyReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public BodyReader(ReadOnlySpan<byte> span)
    {
        _span = span;
        _position = 0;
    }

    public readonly int Remaining => _span.Length - _position;

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count < 0 || count > Remaining)
        {
            throw new ProtocolException($"Message body is truncated: field '{field}' needs {count} bytes, {Remaining} remain.");
        }

        var slice = _span.Slice(_position, count);
        _position += count;
        return slice;
    }

    public byte ReadByte(string field) => Take(1, field)[0];

    /// <summary>Exactly <paramref name="count"/> bytes with no length before them (a fixed-size field such as a tag).</summary>
    public ReadOnlySpan<byte> ReadFixed(int count, string field) => Take(count, field);

    public bool ReadBoolean(string field) => ReadByte(field) switch
    {
        0 => false,
        1 => true,
        var other => throw new ProtocolException($"Field '{field}' must be 0 or 1, got {other}."),
    };

    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));

    public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));

    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));

    public long ReadInt64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field));

    public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

    /// <summary>Passes over a string as <see cref="ReadString"/> would read it, without decoding it.</summary>
    public void SkipString(string field, int maxBytes) => TakeString(field, maxBytes);

    public string ReadString(string field, int maxBytes)
    {
        var bytes = TakeString(field, maxBytes);
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException ex)
        {
            throw new ProtocolException($"Field '{field}' is not valid UTF-8.", ex);
        }
    }

    /// <summary>A string's bytes: a u16 length, at most <paramref name="maxBytes"/>, then the bytes.</summary>
    private ReadOnlySpan<byte> TakeString(string field, int maxBytes)
    {
        var count = ReadUInt16(field);
        return count <= maxBytes
            ? Take(count, field)
            : throw new ProtocolException($"Field '{field}' is {count} bytes, more than the limit of {maxBytes}.");
    }

    public ReadOnlySpan<byte> ReadBytes(string field, int maxBytes)
    {
        var count = ReadInt32(field);
        if (count < 0 || count > maxBytes)
        {
            throw new ProtocolException($"Field '{field}' claims {count} bytes; the limit is {maxBytes}.");
        }

        return Take(count, field);
    }

    /// <summary>Reads a count of items that each need at least <paramref name="minItemBytes"/> bytes.</summary>
    public int ReadCount(string field, int maxCount, int minItemBytes)
    {
        var count = ReadInt32(field);
        if (count < 0 || count > maxCount || (long)count * minItemBytes > Remaining)
        {
            throw new ProtocolException($"Field '{field}' claims {count} items; the limit is {maxCount} and {Remaining} bytes remain.");
        }

        return count;
    }
}
