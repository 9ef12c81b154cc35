using Lustre.Layouts;

namespace Lustre.Cli;

/// <summary>
/// <c>lfs find --mirror-state [^]STATE</c>: Lustre's file states are ro (mirrors in sync), wp (write pending: a mirror is
/// stale) and sp (sync pending, while a resync runs). Here a write goes to every mirror in sync, so a file is ro
/// until a mirror misses a write, then wp until a resync; sp is accepted and never seen.
/// </summary>
internal readonly record struct MirrorState(string State, bool Negated)
{
    /// <summary>The state of a mirrored layout: wp when a mirror is stale, else ro (<c>lcm_flags</c> in getstripe -v).</summary>
    public static string Of(FileLayout layout) => layout.Mirrors.Any(m => m.IsStale) ? "wp" : "ro";

    public static MirrorState Parse(string text)
    {
        var negated = text.StartsWith('^');
        var state = negated ? text[1..] : text;
        return state is "ro" or "wp" or "sp"
            ? new MirrorState(state, negated)
            : throw new FormatException($"bad mirrored file state '{text}': use ro, wp or sp, or ^STATE for files not in it");
    }
}
