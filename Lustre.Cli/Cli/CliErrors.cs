using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>Turns exceptions into the reasons a shell user expects after <c>'path': </c>, as strerror would word them.</summary>
internal static class CliErrors
{
    public static string Reason(Exception exception) => exception switch
    {
        // An open reports these as FileStream does; the shell words them as the errno.
        DirectoryNotFoundException or UnauthorizedAccessException when exception.InnerException is LustreException { Errno: LustreErrno.ENOTDIR or LustreErrno.EISDIR } inner => Describe(inner.Errno),
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException e => $"Permission denied ({e.Message.TrimEnd('.')})",
        // EFBIG: a file or layout past a limit, and the message names which (a Data-on-MDT component's end, dom_stripesize).
        LustreException { Errno: LustreErrno.EINVAL or LustreErrno.EFBIG } e => $"{Describe(e.Errno)} ({ServerMessage(e)})",
        LustreException { Errno: not LustreErrno.None } e when !e.IsTransient => Describe(e.Errno),
        ArgumentException e => $"Invalid argument ({FirstSentence(e.Message)})",
        _ => exception.Message,
    };

    /// <summary>True for failures of the cluster as a whole (nothing answered), as opposed to one path.</summary>
    public static bool IsUnreachable(Exception exception) => exception is LustreException { IsTransient: true } or TimeoutException;

    public static string Describe(LustreErrno errno) => errno switch
    {
        LustreErrno.EPERM => "Operation not permitted",
        LustreErrno.ENOENT => "No such file or directory",
        LustreErrno.EIO => "Input/output error",
        LustreErrno.EACCES => "Permission denied",
        LustreErrno.EBUSY => "Device or resource busy",
        LustreErrno.EEXIST => "File exists",
        LustreErrno.EXDEV => "Invalid cross-device link",
        LustreErrno.ENOTDIR => "Not a directory",
        LustreErrno.EISDIR => "Is a directory",
        LustreErrno.EINVAL => "Invalid argument",
        LustreErrno.EFBIG => "File too large",
        LustreErrno.ENOSPC => "No space left on device",
        LustreErrno.ENODATA => "No data available",
        LustreErrno.ENAMETOOLONG => "File name too long",
        LustreErrno.ERANGE => "Numerical result out of range",
        LustreErrno.ENOSYS => "Function not implemented",
        LustreErrno.ENOTEMPTY => "Directory not empty",
        LustreErrno.ETIMEDOUT => "Connection timed out",
        LustreErrno.ECONNREFUSED => "Connection refused",
        _ => errno.ToString(),
    };

    private static string ServerMessage(LustreException exception) =>
        exception is LustreServerException server ? server.ServerMessage : exception.Message;

    // ArgumentException appends " (Parameter 'x')"; the user gave no parameter named x.
    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return cut < 0 ? message : message[..cut];
    }
}
