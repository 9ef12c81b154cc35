using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>
/// The root of the errors this library raises about the filesystem. <see cref="IsTransient"/> tells whether
/// trying again later may succeed (a server restarting, a timeout), as opposed to a request that is wrong.
/// </summary>
public class LustreException : IOException
{
    /// <summary>Creates an exception with a message.</summary>
    public LustreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public LustreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception with a message, errno and transience.</summary>
    public LustreException(string message, LustreErrno errno, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        Errno = errno;
        IsTransient = isTransient;
        HResult = (int)errno;
    }

    /// <summary>Creates an exception with no message.</summary>
    public LustreException()
    {
    }

    /// <summary>The Linux errno that describes the failure.</summary>
    public LustreErrno Errno { get; }

    /// <summary>True when the same request may succeed if tried again later.</summary>
    public bool IsTransient { get; }
}
