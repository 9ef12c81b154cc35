namespace Lustre.Protocol;

/// <summary>Status codes carried by replies: Linux errno values, as Lustre sends them.</summary>
public enum LustreErrno
{
    /// <summary>Success.</summary>
    None = 0,

    /// <summary>Operation not permitted.</summary>
    EPERM = 1,

    /// <summary>No such file or directory.</summary>
    ENOENT = 2,

    /// <summary>Input/output error.</summary>
    EIO = 5,

    /// <summary>Permission denied (also: authentication failed).</summary>
    EACCES = 13,

    /// <summary>Device or resource busy.</summary>
    EBUSY = 16,

    /// <summary>File exists.</summary>
    EEXIST = 17,

    /// <summary>Cross-device link.</summary>
    EXDEV = 18,

    /// <summary>Not a directory.</summary>
    ENOTDIR = 20,

    /// <summary>Is a directory.</summary>
    EISDIR = 21,

    /// <summary>Invalid argument.</summary>
    EINVAL = 22,

    /// <summary>File too large.</summary>
    EFBIG = 27,

    /// <summary>No space left on device.</summary>
    ENOSPC = 28,

    /// <summary>Numerical result out of range (a parameter value outside its range).</summary>
    ERANGE = 34,

    /// <summary>File name too long.</summary>
    ENAMETOOLONG = 36,

    /// <summary>No data available: here, a write or truncate past the end of a PFL layout that stops short of EOF, as Lustre answers it.</summary>
    ENODATA = 61,

    /// <summary>Function not implemented (unknown opcode).</summary>
    ENOSYS = 38,

    /// <summary>Directory not empty.</summary>
    ENOTEMPTY = 39,

    /// <summary>Protocol error (malformed frame or body).</summary>
    EPROTO = 71,

    /// <summary>Bad message (checksum mismatch).</summary>
    EBADMSG = 74,

    /// <summary>Operation not supported.</summary>
    EOPNOTSUPP = 95,

    /// <summary>Transport endpoint is not connected.</summary>
    ENOTCONN = 107,

    /// <summary>Connection timed out.</summary>
    ETIMEDOUT = 110,

    /// <summary>Connection refused.</summary>
    ECONNREFUSED = 111,

    /// <summary>
    /// Operation already in progress: here, a resend the server can no longer tell was applied or not (its record of
    /// the client's results no longer reaches back that far). It was not run again; check the state before retrying.
    /// </summary>
    EALREADY = 114,

    /// <summary>
    /// Operation now in progress: here, an open for writing of a file whose layout is being migrated (as Lustre's
    /// servers answer EINPROGRESS for a request the client should send again later). The SDK waits and tries again.
    /// </summary>
    EINPROGRESS = 115,

    /// <summary>Stale handle (the object is gone).</summary>
    ESTALE = 116,
}
