using System.Buffers.Binary;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>How the result of a change is kept in its client's reply record, and read back for a resend.</summary>
/// <param name="write">Writes a result into the record (straight into its buffer: a change's record makes no array of its own).</param>
/// <param name="decode">Reads a result back from the record.</param>
internal sealed class ChangeResult<T>(Action<T, BodyWriter> write, Func<byte[], T> decode)
{
    public void Write(T value, BodyWriter writer) => write(value, writer);

    public T Decode(byte[] recorded) => decode(recorded);
}

/// <summary>The results the MDS's changes answer with.</summary>
internal static class ChangeResults
{
    /// <summary>The inode's attributes as the change left them (open-create, mkdir, setattr, close with a size).</summary>
    public static readonly ChangeResult<InodeAttributes> Attributes = new(
        static (attributes, writer) => attributes.Write(writer),
        recorded =>
        {
            var reader = new BodyReader(recorded);
            return InodeAttributes.Read(ref reader);
        });

    /// <summary>A step of a layout migration: its state, data version and the file's attributes.</summary>
    public static readonly ChangeResult<MigrateReply> Migration = new(
        static (reply, writer) => reply.Write(writer),
        recorded =>
        {
            var reader = new BodyReader(recorded);
            return MigrateReply.Read(ref reader);
        });

    /// <summary>A file's size once the change is applied (a Data-on-MDT write).</summary>
    public static readonly ChangeResult<long> Size = new(
        static (size, writer) => writer.WriteInt64(size),
        recorded => recorded.Length == sizeof(long)
            ? BinaryPrimitives.ReadInt64LittleEndian(recorded)
            : throw new InvalidDataException($"A recorded size has {recorded.Length} bytes, not 8: the MDT is damaged."));

    /// <summary>Done, with nothing more to say (unlink, rmdir, rename, a directory's default layout).</summary>
    public static readonly ChangeResult<bool> Done = new(static (_, _) => { }, static _ => true);
}
