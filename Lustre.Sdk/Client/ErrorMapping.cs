using System.Diagnostics.CodeAnalysis;
using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>Turns a server status into the exception a .NET caller expects.</summary>
internal static class ErrorMapping
{
    public static Exception FromStatus(LustreErrno errno, string message, string target) => errno switch
    {
        LustreErrno.ENOENT => new FileNotFoundException($"{target}: {message}"),
        LustreErrno.EACCES or LustreErrno.EPERM => new UnauthorizedAccessException($"{target}: {message} ({errno})"),
        _ => new LustreServerException(errno, message, target),
    };

    [DoesNotReturn]
    public static void Throw(LustreErrno errno, string message, string target) => throw FromStatus(errno, message, target);
}
