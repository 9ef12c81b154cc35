using System.Globalization;
using Lustre.Layouts;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>Which <c>lfs getstripe</c> fields to print: all of them, or only those asked for with -c, -S, -i, -p.</summary>
[Flags]
internal enum StripeFields
{
    None = 0,
    Count = 1,
    Size = 2,
    Offset = 4,
    Pool = 8,
}

/// <summary>
/// Prints layouts the way Lustre's <c>lfs getstripe</c> does: <c>lmm_*</c> lines and the <c>obdidx</c> table for a
/// plain file, <c>lcm_*</c>/<c>lcme_*</c> blocks for a composite or mirrored one, a one-line default for a directory, or YAML (-y).
/// With -v (a file's FID given), also the lines lfs adds: <c>lmm_magic</c>, <c>lmm_seq</c>, <c>lmm_object_id</c>,
/// <c>lmm_fid</c>, and for a composite file its <c>composite_header:</c> and each component's <c>lcme_offset</c>,
/// <c>lcme_size</c> and <c>sub_layout:</c>.
/// </summary>
internal static class LayoutPrinter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    // Lustre's on-disk layout structures, whose sizes -v prints: lov_comp_md_v1 (header), lov_comp_md_entry_v1,
    // lov_mds_md_v1 (a component's header) and lov_ost_data_v1 (one object), and their magic numbers.
    private const int CompositeHeaderSize = 32;
    private const int CompositeEntrySize = 48;
    private const int PlainHeaderSize = 32;
    private const int ObjectSize = 24;
    private const uint PlainMagic = 0x0BD10BD0;
    private const uint CompositeMagic = 0x0BD60BD0;

    /// <param name="writer">Where to print.</param>
    /// <param name="layout">The file's layout.</param>
    /// <param name="only">The fields asked for with -c, -S, -i (none: all).</param>
    /// <param name="fid">The file's FID for -v; null without.</param>
    public static void PrintFile(TextWriter writer, FileLayout layout, StripeFields only, LustreFid? fid = null)
    {
        if (!layout.IsComposite)
        {
            if (fid is { } id)
            {
                PrintIdentity(writer, id, string.Empty);
            }

            PrintComponent(writer, layout.Components[0], layout.Generation, only, indent: string.Empty, table: true);
            return;
        }

        if (fid is { } file)
        {
            PrintVerboseComposite(writer, layout, file);
            return;
        }

        if (only != StripeFields.None)
        {
            foreach (var entry in LayoutEntry.Of(layout))
            {
                PrintFields(writer, entry.Component, only, string.Empty);
            }

            return;
        }

        PrintHeader(writer, layout, "  ");
        foreach (var entry in LayoutEntry.Of(layout))
        {
            PrintEntry(writer, entry, "    ");
            // A component's own lmm_layout_gen, which Lustre shows as 0 next to the file's lcm_layout_gen.
            PrintComponent(writer, entry.Component, generation: 0, StripeFields.None, indent: "      ", table: false);
            writer.WriteLine();
        }
    }

    /// <summary>lfs's -v lines of a plain layout (every sub-layout of a composite one): magic, the file's FID as lmm_oi.</summary>
    private static void PrintIdentity(TextWriter writer, LustreFid fid, string indent)
    {
        writer.WriteLine(string.Create(Invariant, $"{indent}lmm_magic:         0x{PlainMagic:X8}"));
        writer.WriteLine(string.Create(Invariant, $"{indent}lmm_seq:           {Hex(fid.Sequence)}"));
        writer.WriteLine(string.Create(Invariant, $"{indent}lmm_object_id:     {Hex(fid.ObjectId)}"));
        writer.WriteLine($"{indent}lmm_fid:           {fid}");
    }

    /// <summary>C's %#jx: 0x and hexadecimal digits, but a bare 0 for zero.</summary>
    private static string Hex(ulong value) => value == 0 ? "0" : string.Create(Invariant, $"0x{value:x}");

    /// <summary>
    /// <c>lfs getstripe -v</c> of a composite file: the header with Lustre's magic, size and flags, then each component
    /// as a list item with its offset and size in Lustre's on-disk layout (computed: a component that is not
    /// instantiated keeps one object slot, as Lustre's MDT stores it) and its sub-layout.
    /// </summary>
    private static void PrintVerboseComposite(TextWriter writer, FileLayout layout, LustreFid fid)
    {
        var entries = LayoutEntry.Of(layout).ToList();
        var offset = CompositeHeaderSize + (CompositeEntrySize * entries.Count);
        var sizes = entries.Select(e => PlainHeaderSize + (ObjectSize * (e.Component.IsInstantiated ? e.Component.Objects.Count : 1))).ToList();
        writer.WriteLine("composite_header:");
        writer.WriteLine(string.Create(Invariant, $"  lcm_magic:         0x{CompositeMagic:X8}"));
        writer.WriteLine(string.Create(Invariant, $"  lcm_size:          {offset + sizes.Sum()}"));
        writer.WriteLine($"  lcm_flags:         {(layout.IsMirrored ? MirrorState.Of(layout) : "0")}");
        PrintHeader(writer, layout, "  ");
        writer.WriteLine("components:");
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            writer.WriteLine($"  - lcme_id:             {entry.Id}");
            writer.WriteLine($"    lcme_mirror_id:      {entry.MirrorId}");
            writer.WriteLine($"    lcme_flags:          {entry.Flags}");
            writer.WriteLine($"    lcme_extent.e_start: {entry.Component.Start}");
            writer.WriteLine($"    lcme_extent.e_end:   {End(entry.Component.End)}");
            writer.WriteLine($"    lcme_offset:         {offset}");
            writer.WriteLine($"    lcme_size:           {sizes[i]}");
            writer.WriteLine("    sub_layout:");
            PrintIdentity(writer, fid, "      ");
            PrintComponent(writer, entry.Component, generation: 0, StripeFields.None, indent: "      ", table: false);
            writer.WriteLine();
            offset += sizes[i];
        }
    }

    /// <summary>A directory's default layout on one line, as lfs prints directories (no <c>lmm_</c> prefix).</summary>
    public static void PrintDirectoryDefault(TextWriter writer, FileLayout layout, StripeFields only)
    {
        if (layout.IsComposite)
        {
            PrintFile(writer, layout, only);
            return;
        }

        var component = layout.Components[0];
        if (only != StripeFields.None)
        {
            PrintFields(writer, component, only, string.Empty);
            return;
        }

        writer.WriteLine($"stripe_count:  {component.StripeCount} stripe_size:   {component.StripeSize} pattern:       raid0 stripe_offset: {component.StripeOffset}{(component.Pool is { } pool ? " pool:          " + pool : string.Empty)}");
    }

    /// <summary>lfs's <c>lmm_pool:</c> line, after <c>lmm_stripe_offset:</c>, only for a component with a pool.</summary>
    private static void PrintPool(TextWriter writer, LayoutComponent component, string indent)
    {
        if (component.Pool is { } pool)
        {
            writer.WriteLine($"{indent}lmm_pool:          {pool}");
        }
    }

    public static void PrintYaml(TextWriter writer, FileLayout layout)
    {
        if (!layout.IsComposite)
        {
            PrintYamlComponent(writer, layout.Components[0], layout.Generation, string.Empty);
            return;
        }

        PrintHeader(writer, layout, string.Empty);
        var i = 0;
        foreach (var entry in LayoutEntry.Of(layout))
        {
            writer.WriteLine($"component{i++}:");
            PrintEntry(writer, entry, "  ");
            writer.WriteLine("  sub_layout:");
            PrintYamlComponent(writer, entry.Component, generation: 0, "    ");
        }
    }

    /// <summary>An OST object as Lustre names it: an IDIF FID, whose sequence carries the OST index.</summary>
    public static string Fid(OstObject obj) => string.Create(
        Invariant, $"[0x{0x100000000UL | ((ulong)obj.OstIndex << 16) | (obj.ObjectId >> 32):x}:0x{obj.ObjectId & 0xFFFFFFFF:x}:0x0]");

    private static void PrintComponent(TextWriter writer, LayoutComponent component, uint generation, StripeFields only, string indent, bool table)
    {
        if (only != StripeFields.None)
        {
            PrintFields(writer, component, only, indent);
            return;
        }

        PrintHeaderLines(writer, component, generation, indent);
        if (!component.IsInstantiated || component.IsOnMdt)
        {
            return;
        }

        if (table)
        {
            writer.WriteLine("\tobdidx\t\t objid\t\t objid\t\t group");
            foreach (var obj in component.Objects)
            {
                writer.WriteLine(string.Create(Invariant, $"\t{obj.OstIndex,6}\t{obj.ObjectId,14}\t{"0x" + obj.ObjectId.ToString("x", Invariant),13}\t{0,14}"));
            }

            writer.WriteLine();
            return;
        }

        writer.WriteLine($"{indent}lmm_objects:");
        for (var s = 0; s < component.Objects.Count; s++)
        {
            var obj = component.Objects[s];
            writer.WriteLine($"{indent}- {s}: {{ l_ost_idx: {obj.OstIndex}, l_fid: {Fid(obj)} }}");
        }
    }

    /// <summary>Only the fields asked for: the bare value when one is asked, labelled lines when several are.</summary>
    private static void PrintFields(TextWriter writer, LayoutComponent component, StripeFields only, string indent)
    {
        var single = only is StripeFields.Count or StripeFields.Size or StripeFields.Offset or StripeFields.Pool;
        if ((only & StripeFields.Count) != 0)
        {
            writer.WriteLine(single ? $"{component.StripeCount}" : $"{indent}lmm_stripe_count:  {component.StripeCount}");
        }

        if ((only & StripeFields.Size) != 0)
        {
            writer.WriteLine(single ? $"{component.StripeSize}" : $"{indent}lmm_stripe_size:   {component.StripeSize}");
        }

        if ((only & StripeFields.Offset) != 0)
        {
            writer.WriteLine(single ? $"{component.StripeOffset}" : $"{indent}lmm_stripe_offset: {component.StripeOffset}");
        }

        // As lfs: nothing at all for a component without a pool.
        if ((only & StripeFields.Pool) != 0 && component.Pool is { } pool)
        {
            writer.WriteLine(single ? pool : $"{indent}lmm_pool:          {pool}");
        }
    }

    /// <summary>
    /// The <c>lmm_*</c> lines of a component. A Data-on-MDT one, as lfs prints it: stripe count 0, its size as stripe
    /// size, pattern <c>mdt</c>, and the index of its MDT as <c>lmm_mdt_index</c> where a RAID0 one has
    /// <c>lmm_stripe_offset</c> (Lustre 2.17; LU-18982).
    /// </summary>
    private static void PrintHeaderLines(TextWriter writer, LayoutComponent component, uint generation, string indent)
    {
        writer.WriteLine($"{indent}lmm_stripe_count:  {component.StripeCount}");
        writer.WriteLine($"{indent}lmm_stripe_size:   {component.StripeSize}");
        writer.WriteLine($"{indent}lmm_pattern:       {PatternName(component)}");
        writer.WriteLine($"{indent}lmm_layout_gen:    {generation}");
        writer.WriteLine(component.IsOnMdt ? $"{indent}lmm_mdt_index:     {component.StripeOffset}" : $"{indent}lmm_stripe_offset: {component.StripeOffset}");
        PrintPool(writer, component, indent);
    }

    /// <summary>A component's pattern as lfs names it.</summary>
    public static string PatternName(LayoutComponent component) => component.IsOnMdt ? "mdt" : "raid0";

    private static void PrintYamlComponent(TextWriter writer, LayoutComponent component, uint generation, string indent)
    {
        PrintHeaderLines(writer, component, generation, indent);
        if (component.IsInstantiated && !component.IsOnMdt)
        {
            writer.WriteLine($"{indent}lmm_objects:");
            foreach (var obj in component.Objects)
            {
                writer.WriteLine($"{indent}  - l_ost_idx: {obj.OstIndex}");
                writer.WriteLine($"{indent}    l_fid:     {Fid(obj)}");
            }
        }
    }

    /// <summary>The <c>lcm_*</c> lines of a composite layout, as lfs aligns them.</summary>
    private static void PrintHeader(TextWriter writer, FileLayout layout, string indent)
    {
        writer.WriteLine($"{indent}lcm_layout_gen:    {layout.Generation}");
        writer.WriteLine($"{indent}lcm_mirror_count:  {layout.MirrorCount}");
        writer.WriteLine($"{indent}lcm_entry_count:   {LayoutEntry.Count(layout)}");
    }

    /// <summary>The <c>lcme_*</c> lines of one component.</summary>
    private static void PrintEntry(TextWriter writer, LayoutEntry entry, string indent)
    {
        writer.WriteLine($"{indent}lcme_id:             {entry.Id}");
        writer.WriteLine($"{indent}lcme_mirror_id:      {entry.MirrorId}");
        writer.WriteLine($"{indent}lcme_flags:          {entry.Flags}");
        writer.WriteLine($"{indent}lcme_extent.e_start: {entry.Component.Start}");
        writer.WriteLine($"{indent}lcme_extent.e_end:   {End(entry.Component.End)}");
    }

    private static string End(long end) => end == LayoutComponent.Eof ? "EOF" : end.ToString(Invariant);
}
