using Lustre.Layouts;

namespace Lustre.Server.Mds;

/// <summary>
/// The one place where a new file's layout gets the values its template leaves to the default — a stripe count or
/// size of 0 and, for a plain layout, a stripe offset of -1 (<c>lfs setstripe -c 0 -S 0 -i -1</c>): each from the
/// nearest directory default that sets it, then from the filesystem's default. Lustre's <c>lod_ah_init</c> does the
/// same with the file's directory, then the root, then the filesystem's default; here every directory in between
/// counts too, so <c>lfs setstripe -S 4M /wide/sub</c> keeps the stripe count of <c>/wide</c>. Resolved once, when a
/// file is created: a file's stored layout never has an unset value (only -1, "all OSTs", which the allocator
/// resolves when a component is instantiated).
/// </summary>
/// <remarks>
/// Only plain, unmirrored defaults give values, as only a plain root default does in Lustre: a PFL or mirrored
/// default has no single stripe count to give. A stripe offset is inherited by plain layouts only: the components
/// of a PFL file, and the mirrors of a mirrored one, would all start on the same OST. A component without an OST pool
/// takes the pool of the nearest plain default that names one, as Lustre's LOD gives a new file its directory's
/// default pool; the placement then keeps to it (or ignores it, when it no longer exists or does not hold the
/// component's stripe offset).
/// </remarks>
internal static class LayoutInheritance
{
    /// <summary>True when some component of <paramref name="layout"/> (of any mirror) leaves its stripe count or size to the default, or names no pool (which a default may give).</summary>
    public static bool HasUnsetFields(FileLayout layout) => layout.AllComponents().Any(c => c.HasUnsetFields || c.Pool is null)
        || (!layout.IsComposite && layout.Components[0].StripeOffset == -1);

    /// <summary>
    /// True when <paramref name="layout"/> is a plain layout that sets nothing (count 0, size 0, offset -1, no pool): as a
    /// directory default it means "no default", as Lustre's <c>LOVEA_DELETE_VALUES</c>.
    /// </summary>
    public static bool SetsNothing(FileLayout layout) =>
        !layout.IsComposite && layout.Components[0] is { StripeCount: StripeCount.Default, StripeSize: 0, StripeOffset: -1, Pool: null };

    /// <summary>Fills in every unset value of <paramref name="template"/>.</summary>
    /// <param name="template">A file's layout template (plain, PFL or mirrored), without objects.</param>
    /// <param name="defaults">The directory defaults to take values from, nearest first.</param>
    /// <param name="filesystemDefault">The filesystem's default: the last resort, which sets the stripe count and size.</param>
    /// <returns>The template with no stripe count or size left at 0; the same instance when none was.</returns>
    public static FileLayout Resolve(FileLayout template, IReadOnlyList<FileLayout> defaults, FileLayout filesystemDefault)
    {
        if (!HasUnsetFields(template))
        {
            return template;
        }

        if (template.IsMirrored)
        {
            return template.WithMirrors([.. template.Mirrors.Select(m => m.WithLayout(ResolvePlain(m.Layout, defaults, filesystemDefault, inheritOffset: false)))]);
        }

        return ResolvePlain(template, defaults, filesystemDefault, inheritOffset: !template.IsComposite);
    }

    /// <summary>A layout without mirrors, filled in; the same instance when nothing was left to fill (the usual plain create, offset -1 and no directory setting one).</summary>
    private static FileLayout ResolvePlain(FileLayout layout, IReadOnlyList<FileLayout> defaults, FileLayout filesystemDefault, bool inheritOffset)
    {
        var resolved = ResolveComponents(layout.Components, defaults, filesystemDefault, inheritOffset);
        for (var i = 0; i < resolved.Length; i++)
        {
            if (!ReferenceEquals(resolved[i], layout.Components[i]))
            {
                return layout.WithComponents(resolved);
            }
        }

        return layout;
    }

    /// <summary>Fills in the unset values of each of <paramref name="components"/>, the stripe offset only with <paramref name="inheritOffset"/>.</summary>
    public static LayoutComponent[] ResolveComponents(IReadOnlyList<LayoutComponent> components, IReadOnlyList<FileLayout> defaults, FileLayout filesystemDefault, bool inheritOffset)
    {
        var fallback = filesystemDefault.Components[0];
        var size = First(defaults, c => c.StripeSize, 0L) ?? (fallback.StripeSize > 0 ? fallback.StripeSize : LayoutDefaults.DefaultStripeSize);
        var count = First(defaults, c => c.StripeCount, StripeCount.Default) ?? (fallback.StripeCount != StripeCount.Default ? fallback.StripeCount : 1);
        var offset = inheritOffset ? First(defaults, c => c.StripeOffset, -1) ?? -1 : -1;
        var pool = FirstPool(defaults);
        var resolved = new LayoutComponent[components.Count];
        for (var i = 0; i < resolved.Length; i++)
        {
            var c = components[i];
            resolved[i] = c.WithStriping(
                c.StripeSize != 0 ? c.StripeSize : size,
                c.StripeCount != StripeCount.Default ? c.StripeCount : count,
                c.StripeOffset != -1 ? c.StripeOffset : offset,
                c.Pool ?? pool);
        }

        return resolved;
    }

    /// <summary>The value the nearest plain default sets (is not <paramref name="unset"/>), or null when none does.</summary>
    private static T? First<T>(IReadOnlyList<FileLayout> defaults, Func<LayoutComponent, T> field, T unset)
        where T : struct, IEquatable<T>
    {
        foreach (var layout in defaults)
        {
            if (!layout.IsComposite && !layout.IsMirrored && field(layout.Components[0]) is var value && !value.Equals(unset))
            {
                return value;
            }
        }

        return null;
    }

    /// <summary>The pool of the nearest plain default that names one, or null.</summary>
    private static string? FirstPool(IReadOnlyList<FileLayout> defaults) =>
        defaults.FirstOrDefault(d => !d.IsComposite && !d.IsMirrored && d.Components[0].Pool is not null)?.Components[0].Pool;
}
