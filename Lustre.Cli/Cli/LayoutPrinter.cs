using System.Globalization;
using Lustre.Layouts;

namespace Lustre.Cli;

/// <summary>Which <c>lfs getstripe</c> fields to print: all of them, or only those asked for with -c, -S, -i.</summary>
[Flags]
internal enum StripeFields
{
    None = 0,
    Count = 1,
    Size = 2,
    Offset = 4,
}

/// <summary>
/// Prints layouts the way Lustre's <c>lfs getstripe</c> does: <c>lmm_*</c> lines and the <c>obdidx</c> table for a
/// plain file, <c>lcm_*</c>/<c>lcme_*</c> blocks for a composite or mirrored one, a one-line default for a directory, or YAML (-y).
/// </summary>
internal static class LayoutPrinter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void PrintFile(TextWriter writer, FileLayout layout, StripeFields only)
    {
        if (!layout.IsComposite)
        {
            PrintComponent(writer, layout.Components[0], layout.Generation, only, indent: string.Empty, table: true);
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

        writer.WriteLine($"stripe_count:  {component.StripeCount} stripe_size:   {component.StripeSize} pattern:       raid0 stripe_offset: {component.StripeOffset}");
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

        writer.WriteLine($"{indent}lmm_stripe_count:  {component.StripeCount}");
        writer.WriteLine($"{indent}lmm_stripe_size:   {component.StripeSize}");
        writer.WriteLine($"{indent}lmm_pattern:       raid0");
        writer.WriteLine($"{indent}lmm_layout_gen:    {generation}");
        writer.WriteLine($"{indent}lmm_stripe_offset: {component.StripeOffset}");
        if (!component.IsInstantiated)
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
        var single = only is StripeFields.Count or StripeFields.Size or StripeFields.Offset;
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
    }

    private static void PrintYamlComponent(TextWriter writer, LayoutComponent component, uint generation, string indent)
    {
        writer.WriteLine($"{indent}lmm_stripe_count:  {component.StripeCount}");
        writer.WriteLine($"{indent}lmm_stripe_size:   {component.StripeSize}");
        writer.WriteLine($"{indent}lmm_pattern:       raid0");
        writer.WriteLine($"{indent}lmm_layout_gen:    {generation}");
        writer.WriteLine($"{indent}lmm_stripe_offset: {component.StripeOffset}");
        if (component.IsInstantiated)
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
