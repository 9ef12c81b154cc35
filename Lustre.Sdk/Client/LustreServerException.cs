using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>A server refused a request: carries the server's errno, its message and which target answered.</summary>
public sealed class LustreServerException : LustreException
{
    /// <summary>Creates the exception from a server's status reply.</summary>
    public LustreServerException(LustreErrno errno, string serverMessage, string target)
        : base($"{target}: {serverMessage} ({errno})", errno, isTransient: false)
    {
        ServerMessage = serverMessage;
        Target = target;
    }

    /// <summary>Creates an exception with a message.</summary>
    public LustreServerException(string message)
        : base(message)
    {
        ServerMessage = message;
        Target = string.Empty;
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public LustreServerException(string message, Exception? innerException)
        : base(message, innerException)
    {
        ServerMessage = message;
        Target = string.Empty;
    }

    /// <summary>Creates an exception with no message.</summary>
    public LustreServerException()
    {
        ServerMessage = string.Empty;
        Target = string.Empty;
    }

    /// <summary>The message the server sent.</summary>
    public string ServerMessage { get; }

    /// <summary>The target that answered (for example <c>lustre-OST0002</c> or <c>lustre-MDT0000</c>).</summary>
    public string Target { get; }
}
