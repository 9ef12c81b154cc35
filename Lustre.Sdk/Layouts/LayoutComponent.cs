using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace Lustre.Layouts;

/// <summary>
/// One component of a file layout. A RAID0 component stripes the bytes of the file extent [<see cref="Start"/>,
/// <see cref="End"/>) in units of <see cref="StripeSize"/> bytes, round robin over <see cref="StripeCount"/> OST
/// objects. A Data-on-MDT component (<see cref="DataOnMdt(long)"/>, Lustre's <c>-L mdt</c>) keeps the bytes of
/// [0, <see cref="End"/>) on the metadata target, with the file's inode. A plain layout has one RAID0 component over
/// the whole file; a composite (PFL) layout has several, one after the other.
/// </summary>
/// <remarks>
/// A component is a <em>template</em> until the metadata server gives its bytes a home (<see cref="IsInstantiated"/>
/// is false): a RAID0 component is <em>instantiated</em> once it has exactly <see cref="StripeCount"/> objects, a
/// Data-on-MDT one once <see cref="StripeOffset"/> names the MDT that holds it. A RAID0 template may leave its stripe
/// count or size at 0 and its stripe offset at -1: "the default", as Lustre's <c>lfs setstripe -c 0 -S 0 -i -1</c>,
/// filled in when a file is created from it (from the directories above the file, then the filesystem's
/// default). The components of a PFL file are instantiated when a write first reaches them. Instances are immutable.
/// </remarks>
public sealed class LayoutComponent
{
    /// <summary>The end of a component that extends to the end of the file, however long it grows.</summary>
    public const long Eof = long.MaxValue;

    private readonly OstObject[] _objects;
    private readonly string? _pool;

    /// <summary>Creates a component, validating every value.</summary>
    /// <param name="start">The first file offset of the extent: at least 0 and a multiple of 64 KiB.</param>
    /// <param name="end">The file offset just past the extent: greater than <paramref name="start"/>, and <see cref="Eof"/> or a multiple of 64 KiB.</param>
    /// <param name="stripeSize">Bytes per stripe unit: a multiple of 64 KiB, at most <see cref="LayoutDefaults.MaxStripeSize"/>; 0 in a template for the default.</param>
    /// <param name="stripeCount">-1 for all OSTs or 0 for the default (templates only), or 1 to <see cref="LayoutDefaults.MaxStripeCount"/>.</param>
    /// <param name="stripeOffset">The OST index of the first stripe, or -1 for the default (the allocator chooses unless a directory above names one).</param>
    /// <param name="objects">The component's objects, one per stripe in stripe order; null or empty for a template.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range; the parameter is named.</exception>
    /// <exception cref="ArgumentException">A value is not aligned, or the objects do not match the stripe count.</exception>
    public LayoutComponent(long start, long end, long stripeSize, int stripeCount, int stripeOffset = -1, IReadOnlyList<OstObject>? objects = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ThrowIfUnaligned(start);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(end, start);
        if (end != Eof)
        {
            ThrowIfUnaligned(end);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(stripeSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stripeSize, LayoutDefaults.MaxStripeSize);
        ThrowIfUnaligned(stripeSize);
        Layouts.StripeCount.ThrowIfInvalidTemplate(stripeCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(stripeOffset, -1);

        var copy = objects is null || objects.Count == 0 ? [] : CopyObjects(objects, stripeCount);
        if (copy.Length > 0 && stripeSize == 0)
        {
            throw new ArgumentException("An instantiated component needs a stripe size: 0 (the default) is for templates only.", nameof(stripeSize));
        }

        Start = start;
        End = end;
        StripeSize = stripeSize;
        StripeCount = stripeCount;
        StripeOffset = stripeOffset;
        _objects = copy;
        Objects = new ReadOnlyCollection<OstObject>(copy);
    }

    /// <summary>A Data-on-MDT component: [0, <paramref name="end"/>) on MDT <paramref name="mdtIndex"/> (-1 in a template).</summary>
    private LayoutComponent(long end, int mdtIndex)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(end);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, LayoutDefaults.MaxDataOnMdtSize);
        ThrowIfUnaligned(end);
        ArgumentOutOfRangeException.ThrowIfLessThan(mdtIndex, -1);

        // As Lustre's lod: one "stripe" on the MDT, as large as the component, and a stripe count of 0.
        End = end;
        StripeSize = end;
        StripeOffset = mdtIndex;
        Pattern = LayoutPattern.Mdt;
        _objects = [];
        Objects = ReadOnlyCollection<OstObject>.Empty;
    }

    /// <summary>
    /// Creates a Data-on-MDT component (Lustre's <c>lfs setstripe -E END -L mdt</c>): the file's bytes [0,
    /// <paramref name="end"/>) live on the metadata target with its inode, so reading and writing them needs no OST. It
    /// can only be a layout's first component; bytes past its end go to the components after it, and a layout of this
    /// component alone cannot grow past <paramref name="end"/> (writes there fail with EFBIG, as in Lustre). The metadata
    /// server refuses one larger than its limit (1 MiB unless its operator changed it).
    /// </summary>
    /// <param name="end">The component's size: a multiple of 64 KiB, at most <see cref="LayoutDefaults.MaxDataOnMdtSize"/>.</param>
    /// <returns>The component, a template until a file is created with it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="end"/> is not positive or too large.</exception>
    /// <exception cref="ArgumentException"><paramref name="end"/> is not a multiple of 64 KiB.</exception>
    public static LayoutComponent DataOnMdt(long end) => new(end, -1);

    /// <summary>A Data-on-MDT component as stored: on MDT <paramref name="mdtIndex"/>, or a template (-1).</summary>
    internal static LayoutComponent DataOnMdt(long end, int mdtIndex) => new(end, mdtIndex);

    /// <summary>The first file offset of the component's extent (inclusive).</summary>
    public long Start { get; }

    /// <summary>The file offset just past the component's extent (exclusive); <see cref="Eof"/> when it extends to the end of the file.</summary>
    public long End { get; }

    /// <summary>Bytes per stripe unit: consecutive units of this size go to consecutive objects; 0 in a template that leaves it to the default.</summary>
    public long StripeSize { get; }

    /// <summary>
    /// The number of stripes: -1 in a template means one per OST, 0 the default; an instantiated RAID0 component has
    /// exactly this many objects. 0 for a Data-on-MDT component, as Lustre's <c>lmm_stripe_count</c>.
    /// </summary>
    public int StripeCount { get; }

    /// <summary>The OST index of the first stripe, or -1 for the default (the allocator chooses). For a Data-on-MDT component: the index of the MDT holding it (Lustre's <c>lmm_mdt_index</c>), -1 in a template.</summary>
    public int StripeOffset { get; }

    /// <summary>Where the component keeps its bytes: striped over OST objects, or on the MDT (Data-on-MDT).</summary>
    public LayoutPattern Pattern { get; }

    /// <summary>True for a Data-on-MDT component (<see cref="LayoutPattern.Mdt"/>).</summary>
    public bool IsOnMdt => Pattern == LayoutPattern.Mdt;

    /// <summary>The component's OST objects in stripe order; empty in a template and in a Data-on-MDT component.</summary>
    public IReadOnlyList<OstObject> Objects { get; }

    /// <summary>
    /// The OST pool the component's objects are placed in (Lustre's <c>lmm_pool</c>, <c>lfs setstripe -p</c>), or null
    /// for any OST. A pool is a named set of OSTs kept by the MGS (<c>lctl pool_new</c>, <c>pool_add</c>). Always null
    /// for a Data-on-MDT component.
    /// </summary>
    /// <exception cref="ArgumentException">Set to a name that is empty, longer than <see cref="LayoutDefaults.MaxPoolNameLength"/>, has characters other than letters, digits, '_' and '-', or is reserved (ignore, inherit, none).</exception>
    public string? Pool
    {
        get => _pool;
        init
        {
            if (value is not null)
            {
                PoolName.ThrowIfInvalid(value, nameof(Pool));
            }

            _pool = value;
        }
    }

    /// <summary>True when the component's bytes have a home: its objects are allocated, or (Data-on-MDT) its MDT is named.</summary>
    public bool IsInstantiated => _objects.Length > 0 || (Pattern == LayoutPattern.Mdt && StripeOffset >= 0);

    /// <summary>This Data-on-MDT component placed on MDT <paramref name="mdtIndex"/>: how the MDS instantiates it.</summary>
    internal LayoutComponent OnMdt(int mdtIndex) => new(End, mdtIndex);

    /// <summary>The object of stripe <paramref name="stripeIndex"/>, without going through the read-only wrapper.</summary>
    internal OstObject ObjectAt(int stripeIndex) => _objects[stripeIndex];

    /// <summary>Returns a copy of this component with its objects allocated.</summary>
    /// <param name="objects">One object per stripe, in stripe order; the stripe count becomes their number and the stripe offset the first object's OST.</param>
    /// <returns>The instantiated component.</returns>
    /// <exception cref="ArgumentException"><paramref name="objects"/> is empty, too long, or lists an object twice, or the stripe size is still the default (0).</exception>
    /// <exception cref="InvalidOperationException">The component is a Data-on-MDT one, whose bytes need no OST object.</exception>
    public LayoutComponent WithObjects(IReadOnlyList<OstObject> objects)
    {
        ArgumentNullException.ThrowIfNull(objects);
        if (IsOnMdt)
        {
            throw new InvalidOperationException("A Data-on-MDT component keeps its bytes on the MDT: it takes no OST objects.");
        }

        if (objects.Count == 0)
        {
            throw new ArgumentException("An instantiated component needs at least one object.", nameof(objects));
        }

        if (objects.Count > LayoutDefaults.MaxStripeCount)
        {
            throw new ArgumentException($"A component has at most {LayoutDefaults.MaxStripeCount} objects, got {objects.Count}.", nameof(objects));
        }

        return new LayoutComponent(Start, End, StripeSize, objects.Count, objects[0].OstIndex, objects) { Pool = _pool };
    }

    /// <summary>True when a RAID0 component's stripe count or size is left to the default (0), so a create must fill it in.</summary>
    internal bool HasUnsetFields => !IsOnMdt && (StripeCount == Layouts.StripeCount.Default || StripeSize == 0);

    /// <summary>Returns a template with the same extent and other stripe values and pool (for the metadata server's inheritance); a Data-on-MDT component as it is.</summary>
    internal LayoutComponent WithStriping(long stripeSize, int stripeCount, int stripeOffset, string? pool) =>
        IsOnMdt || (stripeSize == StripeSize && stripeCount == StripeCount && stripeOffset == StripeOffset && pool == _pool && _objects.Length == 0)
            ? this
            : new LayoutComponent(Start, End, stripeSize, stripeCount, stripeOffset) { Pool = pool };

    /// <summary>Returns a template with the same stripe values moved by <paramref name="shift"/> bytes (EOF stays EOF): components sent to be appended to a file travel from offset 0.</summary>
    internal LayoutComponent Shifted(long shift) =>
        new(Start + shift, End == Eof ? Eof : End + shift, StripeSize, StripeCount, StripeOffset) { Pool = _pool };

    /// <summary>
    /// Returns the component as text, e.g. <c>[0, 4194304) stripe_size=1048576 stripe_count=1 stripe_offset=-1</c>, with
    /// its pool when it has one and its objects when instantiated; a Data-on-MDT one as <c>[0, 65536) pattern=mdt mdt_index=0</c>.
    /// </summary>
    /// <returns>The component as text.</returns>
    public override string ToString()
    {
        var builder = new StringBuilder();
        AppendTo(builder);
        return builder.ToString();
    }

    internal void AppendTo(StringBuilder builder)
    {
        var culture = CultureInfo.InvariantCulture;
        builder.Append(culture, $"[{Start}, ");
        builder.Append(End == Eof ? "EOF" : End.ToString(culture));
        if (IsOnMdt)
        {
            builder.Append(culture, $") pattern=mdt mdt_index={StripeOffset}");
            return;
        }

        builder.Append(culture, $") stripe_size={StripeSize} stripe_count={StripeCount} stripe_offset={StripeOffset}");
        if (_pool is not null)
        {
            builder.Append(" pool=").Append(_pool);
        }

        if (_objects.Length > 0)
        {
            builder.Append(" objects=[");
            for (var i = 0; i < _objects.Length; i++)
            {
                if (i > 0)
                {
                    builder.Append(", ");
                }

                builder.Append(_objects[i].ToString());
            }

            builder.Append(']');
        }
    }

    /// <summary>Up to this many objects, duplicates are found by comparing each with those before it.</summary>
    private const int SmallObjectCount = 16;

    private static OstObject[] CopyObjects(IReadOnlyList<OstObject> objects, int stripeCount)
    {
        if (objects.Count != stripeCount)
        {
            throw new ArgumentException($"An instantiated component needs exactly one object per stripe: stripe count is {stripeCount}, got {objects.Count} objects.", nameof(objects));
        }

        var copy = new OstObject[objects.Count];

        // Few objects are compared with each other: a set for one or two stripes would cost more than the layout.
        var seen = copy.Length > SmallObjectCount ? new HashSet<OstObject>(copy.Length) : null;
        for (var i = 0; i < copy.Length; i++)
        {
            var obj = objects[i];
            if (obj.OstIndex < 0)
            {
                throw new ArgumentException($"Object {i} has OST index {obj.OstIndex}; OST indexes are at least 0.", nameof(objects));
            }

            if (seen is null ? Array.IndexOf(copy, obj, 0, i) >= 0 : !seen.Add(obj))
            {
                throw new ArgumentException($"Object {i} ({obj}) appears twice in one component.", nameof(objects));
            }

            copy[i] = obj;
        }

        return copy;
    }

    private static void ThrowIfUnaligned(long value, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? paramName = null)
    {
        if (value % LayoutDefaults.StripeAlignment != 0)
        {
            throw new ArgumentException($"{paramName} must be a multiple of {LayoutDefaults.StripeAlignment} (64 KiB), got {value}.", paramName);
        }
    }
}
