using System.Text;
using Lustre.Protocol;

namespace Lustre.Namespace;

/// <summary>
/// Validates and splits filesystem paths. A path is absolute ("/a/b"), its components are non-empty, at most
/// 255 UTF-8 bytes, contain no NUL, and are never "." or "..": the namespace has no relative walk, so a
/// hostile path cannot climb out of anything. The client checks before sending; the MDS checks again.
/// </summary>
internal static class LustrePath
{
    /// <summary>Splits a valid path into its components (none for the root).</summary>
    public static string[] Split(string path)
    {
        var error = Validate(path, out var components);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(path));
        }

        return components;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Returns null when the path is valid, else a message naming the problem; splits a valid path into <paramref name="components"/>.</summary>
    public static string? Validate(string? path, out string[] components)
    {
        var error = Check(path);
        components = error is null ? SplitValid(path!) : [];
        return error;
    }

    /// <summary>
    /// Returns null when the path is valid, else a message naming the problem. Allocates nothing for a valid path:
    /// every metadata call checks its path before sending, and the MDS checks it again.
    /// </summary>
    public static string? Check(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "The path is empty.";
        }

        int bytes;
        try
        {
            bytes = StrictUtf8.GetByteCount(path);
        }
        catch (EncoderFallbackException)
        {
            // A lone surrogate would turn into U+FFFD on the wire and collide with other names.
            return "The path is not valid Unicode (it has an unpaired surrogate).";
        }

        if (path[0] != '/')
        {
            return $"The path '{Printable(path)}' is not absolute: filesystem paths start with '/'.";
        }

        if (path.Contains('\0', StringComparison.Ordinal))
        {
            return $"The path '{Printable(path)}' contains a NUL character.";
        }

        if (bytes > ProtocolLimits.MaxPathLength)
        {
            return $"The path is longer than {ProtocolLimits.MaxPathLength} bytes.";
        }

        var rest = Trimmed(path);
        if (rest.IsEmpty)
        {
            return null;
        }

        foreach (var range in rest.Split('/'))
        {
            var part = rest[range];
            if (part.IsEmpty)
            {
                return $"The path '{Printable(path)}' has an empty component ('//').";
            }

            if (part is "." or "..")
            {
                return $"The path '{Printable(path)}' has a '{part}' component; only plain names are allowed.";
            }

            if (Encoding.UTF8.GetByteCount(part) > ProtocolLimits.MaxNameLength)
            {
                return $"The name '{Printable(part[..Math.Min(part.Length, 32)].ToString())}...' is longer than {ProtocolLimits.MaxNameLength} bytes.";
            }
        }

        return null;
    }

    /// <summary>The components of a path as one span: without its leading slash and one trailing slash (empty for the root).</summary>
    public static ReadOnlySpan<char> Trimmed(string path)
    {
        var end = path.Length > 1 && path[^1] == '/' ? path.Length - 1 : path.Length;
        return end <= 1 ? [] : path.AsSpan(1, end - 1);
    }

    private static string[] SplitValid(string path)
    {
        var rest = Trimmed(path);
        return rest.IsEmpty ? [] : rest.ToString().Split('/');
    }

    /// <summary>The canonical form: no trailing slash except for the root.</summary>
    public static string Normalize(string path)
    {
        var error = Check(path);
        if (error is not null)
        {
            throw new ArgumentException(error, nameof(path));
        }

        return Canonical(path);
    }

    /// <summary>
    /// The canonical form of a path <see cref="Check"/> found valid: the same string when it has no trailing slash (a
    /// valid path has at most one: two would make an empty component).
    /// </summary>
    public static string Canonical(string validPath) => validPath.Length > 1 && validPath[^1] == '/' ? validPath[..^1] : validPath;

    public static string Combine(string directory, string name) => directory.EndsWith('/') ? directory + name : directory + "/" + name;

    /// <summary>The parent directory of a valid, non-root path.</summary>
    public static string Parent(string path)
    {
        var normalized = Normalize(path);
        var slash = normalized.LastIndexOf('/');
        return slash <= 0 ? "/" : normalized[..slash];
    }

    public static string FileName(string path)
    {
        var normalized = Normalize(path);
        return normalized[(normalized.LastIndexOf('/') + 1)..];
    }

    private static string Printable(string text) => text.Replace("\0", "\\0", StringComparison.Ordinal);
}
