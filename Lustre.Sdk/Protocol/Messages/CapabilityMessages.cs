using Lustre.Layouts;

namespace Lustre.Protocol.Messages;

/// <summary>What a capability lets its holder do with an OST object.</summary>
[Flags]
internal enum CapabilityRights : byte
{
    None = 0,
    Read = 1,
    Write = 2,
}

/// <summary>
/// The OST capabilities the MDS issues with an open (Lustre's capa): one set of rights and one expiry for the file, and a
/// tag per OST object of its layout, signed with a key only servers hold. The client sends an object's rights, expiry
/// and tag after the fields of each read, write and punch of it (<see cref="OstFieldLength"/> bytes), and the OSS
/// refuses the request when they do not verify, have expired or lack the right. Opaque to the client otherwise.
/// Wire: rights u8, expiry i64 (Unix ms), i32 count, count × (ost i32, object id u64, 16-byte tag).
/// </summary>
internal sealed class FileCapability
{
    public const int TagLength = 16;

    /// <summary>What an OST request carries after its fields: rights, expiry, tag.</summary>
    public const int OstFieldLength = 1 + 8 + TagLength;

    /// <summary>Most objects one capability names: well past any layout that fits <see cref="InodeAttributes.MaxLayoutLength"/>.</summary>
    public const int MaxObjects = 32768;

    private const int EntryLength = 4 + 8 + TagLength;

    /// <summary>The largest encoded capability a peer may send.</summary>
    public const int MaxEncodedLength = 1 + 8 + 4 + (MaxObjects * EntryLength);

    private readonly Dictionary<OstObject, int> _index;
    private readonly byte[] _tags;

    private FileCapability(CapabilityRights rights, long expiresMs, Dictionary<OstObject, int> index, byte[] tags)
    {
        Rights = rights;
        ExpiresMs = expiresMs;
        _index = index;
        _tags = tags;
    }

    public CapabilityRights Rights { get; }

    /// <summary>When it stops being accepted, in Unix milliseconds (the OSS's clock).</summary>
    public long ExpiresMs { get; }

    /// <summary>Whether it has a tag for <paramref name="obj"/> (a layout changed since: renew it).</summary>
    public bool Covers(OstObject obj) => _index.ContainsKey(obj);

    /// <summary>Writes <paramref name="obj"/>'s rights, expiry and tag after an OST request's fields (zeros when it has none: refused).</summary>
    public void WriteFor(BodyWriter writer, OstObject obj)
    {
        writer.WriteByte((byte)Rights);
        writer.WriteInt64(ExpiresMs);
        writer.WriteFixed(_index.TryGetValue(obj, out var at) ? _tags.AsSpan(at * TagLength, TagLength) : stackalloc byte[TagLength]);
    }

    /// <summary>Encodes a capability: one entry per object, its tag from <paramref name="sign"/>.</summary>
    public static byte[] Encode(CapabilityRights rights, long expiresMs, IReadOnlyList<OstObject> objects, Action<OstObject, Span<byte>> sign)
    {
        if (objects.Count > MaxObjects)
        {
            throw new ArgumentException($"a capability names at most {MaxObjects} objects, not {objects.Count}", nameof(objects));
        }

        var bytes = new byte[1 + 8 + 4 + (objects.Count * EntryLength)];
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(bytes.Length);
        var writer = new BodyWriter(buffer);
        writer.WriteByte((byte)rights);
        writer.WriteInt64(expiresMs);
        writer.WriteInt32(objects.Count);
        Span<byte> tag = stackalloc byte[TagLength];
        foreach (var obj in objects)
        {
            writer.WriteInt32(obj.OstIndex);
            writer.WriteUInt64(obj.ObjectId);
            sign(obj, tag);
            writer.WriteFixed(tag);
        }

        buffer.WrittenSpan.CopyTo(bytes);
        return bytes;
    }

    /// <summary>Decodes what the MDS sent; null when it sent none (a cluster without keys, or a trusted connection).</summary>
    public static FileCapability? Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return null;
        }

        var reader = new BodyReader(bytes);
        var rights = (CapabilityRights)reader.ReadByte("capability rights");
        var expires = reader.ReadInt64("capability expiry");
        var count = reader.ReadCount("capability objects", MaxObjects, EntryLength);
        var index = new Dictionary<OstObject, int>(count);
        var tags = new byte[count * TagLength];
        for (var i = 0; i < count; i++)
        {
            var obj = new OstObject(reader.ReadInt32("capability ost"), reader.ReadUInt64("capability object"));
            reader.ReadFixed(TagLength, "capability tag").CopyTo(tags.AsSpan(i * TagLength));
            index.TryAdd(obj, i);
        }

        return new FileCapability(rights, expires, index, tags);
    }
}
