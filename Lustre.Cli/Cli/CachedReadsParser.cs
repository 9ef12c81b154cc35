using Lustre.Server.Oss;

namespace Lustre.Cli;

/// <summary>Parses a <see cref="CachedReadMode"/> (<c>copy</c>, <c>map</c> or <c>auto</c>, any case), for the CLI's config file and the benchmark runners.</summary>
internal static class CachedReadsParser
{
    public static CachedReadMode Parse(string text, string what) =>
        Enum.TryParse<CachedReadMode>(text, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw new FormatException($"{what} must be copy, map or auto, not '{text}'.");
}
