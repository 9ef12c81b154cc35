using System.Globalization;

namespace Lustre.Cli;

/// <summary>Parses sizes the way lfs does: a number with an optional K, M, G or T suffix (powers of 1024).</summary>
internal static class SizeParser
{
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var shift = char.ToUpperInvariant(text[^1]) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            'T' => 40,
            _ => 0,
        };
        var digits = shift == 0 ? text : text[..^1];
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > (long.MaxValue >> shift))
        {
            return false;
        }

        bytes = value << shift;
        return true;
    }

    public static long Parse(string text, string what) =>
        TryParse(text, out var bytes) ? bytes : throw new FormatException($"{what} '{text}' is not a size (examples: 65536, 64K, 4M, 1G).");
}
