namespace Lustre.Protocol;

/// <summary>
/// What makes a shared secret acceptable: at least <see cref="MinimumBytes"/> bytes, not all of them whitespace; a
/// secret read as text (a file, an environment variable) is measured after trimming, so neither a trailing newline
/// nor a secret of spaces passes for a key. Checked where a secret enters: the command line's loader, the client's
/// options, the server at start.
/// </summary>
internal static class SharedSecrets
{
    /// <summary>256 bits: as much as the HMAC behind the handshake's proof can use.</summary>
    public const int MinimumBytes = 32;

    /// <summary>The longest name of a named key (a key file's entry, <c>LustreClientOptions.KeyName</c>).</summary>
    public const int MaxKeyNameLength = 64;

    /// <summary>True for a key name of 1 to <see cref="MaxKeyNameLength"/> letters, digits, '.', '-' or '_'.</summary>
    public static bool IsValidKeyName(string name) =>
        name.Length is > 0 and <= MaxKeyNameLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_');

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="source"/> when the secret is too short.</summary>
    public static void Validate(ReadOnlySpan<byte> secret, string source)
    {
        if (Problem(secret, source) is { } problem)
        {
            throw new ArgumentException(problem, nameof(secret));
        }
    }

    /// <summary>
    /// Why the secret is refused, naming <paramref name="source"/>; null when it is acceptable. The bytes are taken as
    /// given (a random key may begin or end with a byte that reads as a space); text secrets are trimmed by their
    /// loader before they get here, so there the length is the length after trimming.
    /// </summary>
    public static string? Problem(ReadOnlySpan<byte> secret, string source)
    {
        if (secret.Trim(" \t\r\n\f\v"u8).IsEmpty)
        {
            return $"{source} is empty or only whitespace; a shared secret needs at least {MinimumBytes} bytes (make one with: head -c 32 /dev/urandom | base64).";
        }

        return secret.Length >= MinimumBytes
            ? null
            : $"{source} has {secret.Length} bytes; a shared secret needs at least {MinimumBytes} (make one with: head -c 32 /dev/urandom | base64).";
    }
}
