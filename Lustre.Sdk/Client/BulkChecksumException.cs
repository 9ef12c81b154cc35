using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>A bulk transfer arrived with bytes that do not match its checksum; the data was not accepted.</summary>
public sealed class BulkChecksumException : LustreException
{
    internal BulkChecksumException(string target, ulong xid, int length)
        : base($"{target}: checksum mismatch on a {length}-byte bulk transfer (xid {xid}); the data was discarded.", LustreErrno.EBADMSG, isTransient: true)
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    public BulkChecksumException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public BulkChecksumException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with no message.</summary>
    public BulkChecksumException()
    {
    }
}
