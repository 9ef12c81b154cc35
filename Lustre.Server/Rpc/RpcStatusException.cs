using Lustre.Protocol;

namespace Lustre.Server.Rpc;

/// <summary>Thrown by a handler to answer with an errno and a message naming what was wrong.</summary>
internal sealed class RpcStatusException : Exception
{
    public RpcStatusException(LustreErrno errno, string message)
        : base(message) => Errno = errno;

    public RpcStatusException()
    {
    }

    public RpcStatusException(string message)
        : base(message)
    {
    }

    public RpcStatusException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public LustreErrno Errno { get; } = LustreErrno.EIO;
}
