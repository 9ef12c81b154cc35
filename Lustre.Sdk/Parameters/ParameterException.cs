using Lustre.Protocol;

namespace Lustre.Parameters;

/// <summary>A parameter refused a read or a change: the errno lctl would report, and a message naming the parameter.</summary>
internal sealed class ParameterException(LustreErrno errno, string message) : Exception(message)
{
    public LustreErrno Errno { get; } = errno;
}
