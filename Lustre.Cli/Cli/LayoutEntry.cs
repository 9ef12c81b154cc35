using Lustre.Layouts;

namespace Lustre.Cli;

/// <summary>
/// One component of a composite layout as <c>lfs getstripe</c> lists it: its <c>lcme_id</c>, <c>lcme_mirror_id</c> and
/// <c>lcme_flags</c>. A mirror's components are numbered as Lustre numbers them, <c>(mirror_id &lt;&lt; 16) | n</c>,
/// where Lustre's n is a sequence over the whole file, in component order when the file is created (mirror 2 of a
/// fresh 2-mirror file is 131074). Layouts here keep no component ids, so n is the component's position in the file:
/// the same as Lustre's for a file as created, renumbered when a split or an extend changes the mirrors before it.
/// </summary>
internal readonly record struct LayoutEntry(long Id, int MirrorId, string Flags, LayoutComponent Component)
{
    private const int MirrorIdShift = 16;

    /// <summary>Every component of the layout, mirror by mirror.</summary>
    public static IEnumerable<LayoutEntry> Of(FileLayout layout)
    {
        if (!layout.IsMirrored)
        {
            for (var i = 0; i < layout.Components.Count; i++)
            {
                var component = layout.Components[i];
                yield return new LayoutEntry(i + 1, 0, FlagsOf(component, MirrorFlags.None), component);
            }

            yield break;
        }

        var n = 0L;
        foreach (var mirror in layout.Mirrors)
        {
            foreach (var component in mirror.Layout.Components)
            {
                yield return new LayoutEntry(((long)mirror.Id << MirrorIdShift) | ++n, mirror.Id, FlagsOf(component, mirror.Flags), component);
            }
        }
    }

    /// <summary>The number of components over every mirror: <c>lcm_entry_count</c>.</summary>
    public static int Count(FileLayout layout)
    {
        if (!layout.IsMirrored)
        {
            return layout.Components.Count;
        }

        var count = 0;
        foreach (var mirror in layout.Mirrors)
        {
            count += mirror.Layout.Components.Count;
        }

        return count;
    }

    // In the order of Lustre's comp_flags_table, comma separated; "0" for none.
    private static string FlagsOf(LayoutComponent component, MirrorFlags mirror)
    {
        var flags = new List<string>(3);
        if (component.IsInstantiated)
        {
            flags.Add("init");
        }

        if ((mirror & MirrorFlags.Stale) != 0)
        {
            flags.Add("stale");
        }

        if ((mirror & MirrorFlags.Prefer) != 0)
        {
            flags.Add("prefer");
        }

        return flags.Count == 0 ? "0" : string.Join(',', flags);
    }
}
