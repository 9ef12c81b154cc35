using System.Buffers;
using System.Text;

namespace Lustre.Cli;

/// <summary>
/// Refuses arguments that are not valid UTF-8. .NET decodes argv as UTF-8 and silently turns invalid bytes into
/// U+FFFD, so a name typed in another encoding would become another name, and several names the same one. On Linux
/// the exact bytes are in <c>/proc/self/cmdline</c> and are checked; where they are not available, an argument
/// holding U+FFFD is refused instead.
/// </summary>
internal static class ArgumentEncoding
{
    private const string CommandLineFile = "/proc/self/cmdline";

    /// <summary>The first argument that is not valid UTF-8, as its 1-based position and a printable form (bad bytes as <c>\xFF</c>), or null.</summary>
    public static (int Position, string Printable)? FindInvalid(string[] args) =>
        FindInvalid(args, File.Exists(CommandLineFile) ? File.ReadAllBytes(CommandLineFile) : null);

    /// <param name="args">The arguments as .NET decoded them.</param>
    /// <param name="commandLine">The process's argv as NUL-terminated bytes; the arguments are its last <paramref name="args"/>.Length entries (before them: the host, such as <c>dotnet lustre.dll</c>).</param>
    public static (int Position, string Printable)? FindInvalid(string[] args, byte[]? commandLine)
    {
        var raw = commandLine is null ? [] : Split(commandLine);
        if (raw.Count < args.Length)
        {
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i].Contains('\uFFFD', StringComparison.Ordinal))
                {
                    return (i + 1, args[i]);
                }
            }

            return null;
        }

        var first = raw.Count - args.Length;
        for (var i = 0; i < args.Length; i++)
        {
            if (System.Text.Unicode.Utf8.IsValid(raw[first + i]))
            {
                continue;
            }

            return (i + 1, Printable(raw[first + i]));
        }

        return null;
    }

    private static List<byte[]> Split(byte[] commandLine)
    {
        var entries = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < commandLine.Length; i++)
        {
            if (commandLine[i] == 0)
            {
                entries.Add(commandLine[start..i]);
                start = i + 1;
            }
        }

        return entries;
    }

    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        while (!bytes.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(bytes, out var rune, out var consumed) == OperationStatus.Done)
            {
                text.Append(rune.ToString());
            }
            else
            {
                for (var i = 0; i < consumed; i++)
                {
                    text.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{bytes[i]:X2}");
                }
            }

            bytes = bytes[consumed..];
        }

        return text.ToString();
    }
}
