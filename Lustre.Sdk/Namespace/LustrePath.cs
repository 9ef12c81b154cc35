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

    /// <summary>Returns null when the path is valid, else a message naming the problem.</summary>
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string? Validate(string? path, out string[] components)
    {
        components = [];
        if (string.IsNullOrEmpty(path))
        {
            return "The path is empty.";
        }

        try
        {
            StrictUtf8.GetByteCount(path);
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

        if (Encoding.UTF8.GetByteCount(path) > ProtocolLimits.MaxPathLength)
        {
            return $"The path is longer than {ProtocolLimits.MaxPathLength} bytes.";
        }

        var trimmed = path.Length > 1 && path[^1] == '/' ? path[..^1] : path;
        if (trimmed == "/")
        {
            return null;
        }

        var parts = trimmed[1..].Split('/');
        foreach (var part in parts)
        {
            if (part.Length == 0)
            {
                return $"The path '{Printable(path)}' has an empty component ('//').";
            }

            if (part is "." or "..")
            {
                return $"The path '{Printable(path)}' has a '{part}' component; only plain names are allowed.";
            }

            if (Encoding.UTF8.GetByteCount(part) > ProtocolLimits.MaxNameLength)
            {
                return $"The name '{Printable(part[..Math.Min(part.Length, 32)])}...' is longer than {ProtocolLimits.MaxNameLength} bytes.";
            }
        }

        components = parts;
        return null;
    }

    /// <summary>The canonical form: no trailing slash except for the root.</summary>
    public static string Normalize(string path) => "/" + string.Join('/', Split(path));

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
