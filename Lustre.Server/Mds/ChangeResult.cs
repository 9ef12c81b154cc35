using System.Buffers;
using System.Buffers.Binary;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>How the result of a change is kept in its client's reply record, and read back for a resend.</summary>
internal sealed class ChangeResult<T>(Func<T, byte[]> encode, Func<byte[], T> decode)
{
    public byte[] Encode(T value) => encode(value);

    public T Decode(byte[] recorded) => decode(recorded);
}

/// <summary>The results the MDS's changes answer with.</summary>
internal static class ChangeResults
{
    /// <summary>The inode's attributes as the change left them (open-create, mkdir, setattr, close with a size).</summary>
    public static readonly ChangeResult<InodeAttributes> Attributes = new(
        attributes =>
        {
            var written = new ArrayBufferWriter<byte>(128 + attributes.Layout.Length);
            attributes.Write(new BodyWriter(written));
            return written.WrittenSpan.ToArray();
        },
        recorded =>
        {
            var reader = new BodyReader(recorded);
            return InodeAttributes.Read(ref reader);
        });

    /// <summary>A step of a layout migration: its state, data version and the file's attributes.</summary>
    public static readonly ChangeResult<MigrateReply> Migration = new(
        reply =>
        {
            var written = new ArrayBufferWriter<byte>(160 + reply.File.Layout.Length + reply.NewLayout.Length);
            reply.Write(new BodyWriter(written));
            return written.WrittenSpan.ToArray();
        },
        recorded =>
        {
            var reader = new BodyReader(recorded);
            return MigrateReply.Read(ref reader);
        });

    /// <summary>A file's size once the change is applied (a Data-on-MDT write).</summary>
    public static readonly ChangeResult<long> Size = new(
        size =>
        {
            var bytes = new byte[sizeof(long)];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, size);
            return bytes;
        },
        recorded => recorded.Length == sizeof(long)
            ? BinaryPrimitives.ReadInt64LittleEndian(recorded)
            : throw new InvalidDataException($"A recorded size has {recorded.Length} bytes, not 8: the MDT is damaged."));

    /// <summary>Done, with nothing more to say (unlink, rmdir, rename, a directory's default layout).</summary>
    public static readonly ChangeResult<bool> Done = new(_ => [], _ => true);
}
