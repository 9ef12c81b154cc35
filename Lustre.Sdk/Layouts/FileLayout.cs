using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace Lustre.Layouts;

/// <summary>
/// Where a file's bytes live: a plain RAID0 layout (one component over the whole file) or a
/// composite, progressive file layout (PFL) whose components cover consecutive extents of the
/// file, each striped its own way, e.g. [0, 4 MiB) on one OST, [4 MiB, 1 GiB) on four and
/// [1 GiB, EOF) on all. As in Lustre, a PFL layout may stop short of EOF (writes past its end fail
/// until <c>lfs setstripe --comp-add</c> adds a component there), and its components get their
/// objects when a write first reaches them. A composite layout's first component may keep its bytes on the MDT
/// instead (<see cref="LayoutComponent.DataOnMdt(long)"/>, Lustre's Data-on-MDT). A mirrored layout (Lustre's FLR)
/// holds 1 to <see cref="MaxMirrors"/> layouts without Data-on-MDT, each a whole copy of the file on OSTs of its own.
/// Instances are immutable and always valid.
/// </summary>
public sealed class FileLayout
{
    /// <summary>The most mirrors a file can have.</summary>
    public const int MaxMirrors = 4;

    private readonly LayoutComponent[] _components;
    private readonly LayoutMirror[] _mirrors;

    private FileLayout(LayoutComponent[] components, bool isComposite, uint generation)
    {
        Validate(components, isComposite);
        _components = components;
        _mirrors = [];
        Components = new ReadOnlyCollection<LayoutComponent>(components);
        Mirrors = [];
        IsComposite = isComposite;
        Generation = generation;

        var instantiated = true;
        var objectCount = 0;
        var instantiatedEnd = 0L;
        foreach (var component in components)
        {
            instantiated &= component.IsInstantiated;
            objectCount += component.Objects.Count;
            if (instantiated)
            {
                instantiatedEnd = component.End;
            }
        }

        IsInstantiated = instantiated;
        ObjectCount = objectCount;
        InstantiatedEnd = instantiatedEnd;
        DataOnMdtEnd = components[0].IsOnMdt ? components[0].End : 0;
    }

    private FileLayout(LayoutMirror[] mirrors, uint generation)
    {
        ValidateMirrors(mirrors);
        _mirrors = mirrors;
        Mirrors = new ReadOnlyCollection<LayoutMirror>(mirrors);
        var first = mirrors[0].Layout;
        _components = first._components;
        Components = first.Components;
        ObjectCount = first.ObjectCount;
        IsComposite = true;
        Generation = generation;
        IsInstantiated = Array.TrueForAll(mirrors, m => m.Layout.IsInstantiated);
        InstantiatedEnd = mirrors.Min(m => m.Layout.InstantiatedEnd);
    }

    /// <summary>
    /// The components in file-offset order; they cover the file from 0 to <see cref="End"/> (EOF, but for a PFL layout
    /// that stops short) without holes or overlaps. For a mirrored layout, those of its first mirror (each mirror's
    /// are in <see cref="Mirrors"/>).
    /// </summary>
    public IReadOnlyList<LayoutComponent> Components { get; }

    /// <summary>The layout generation: bumped by the metadata server each time the layout changes, so clients notice stale copies.</summary>
    public uint Generation { get; }

    /// <summary>True for a composite (PFL) layout, even one with a single component; false for a plain RAID0 layout.</summary>
    public bool IsComposite { get; }

    /// <summary>True when every component has its objects allocated.</summary>
    public bool IsInstantiated { get; }

    /// <summary>
    /// The end of the layout's last component: <see cref="LayoutComponent.Eof"/>, or where a PFL layout that stops
    /// short ends (no byte at or past it can be written).
    /// </summary>
    public long End => _components[^1].End;

    /// <summary>
    /// The end of the leading run of instantiated components (of every mirror): bytes below it have objects. The
    /// metadata server instantiates components in file order (a write instantiates every component before its end,
    /// as Lustre's layout intent does), so bytes at or past it were never written and read as zeros.
    /// </summary>
    internal long InstantiatedEnd { get; }

    /// <summary>The number of objects over all components, in component order then stripe order (of the first mirror, for a mirrored layout).</summary>
    internal int ObjectCount { get; }

    /// <summary>The end of the Data-on-MDT component (the first one), or 0 when the layout has none.</summary>
    internal long DataOnMdtEnd { get; }

    /// <summary>True when the first component keeps its bytes on the MDT.</summary>
    internal bool HasDataOnMdt => DataOnMdtEnd > 0;

    /// <summary>The mirrors, in id order, of a mirrored layout; empty for a layout without mirrors.</summary>
    public IReadOnlyList<LayoutMirror> Mirrors { get; }

    /// <summary>True for a mirrored (FLR) layout, even one with a single mirror.</summary>
    public bool IsMirrored => _mirrors.Length > 0;

    /// <summary>The number of copies of the file's bytes: the mirrors, or 1 for a layout without mirrors.</summary>
    public int MirrorCount => Math.Max(1, _mirrors.Length);

    /// <summary>Creates a plain RAID0 layout: one component over the whole file.</summary>
    /// <param name="stripeSize">Bytes per stripe unit: a multiple of 64 KiB below 4 GiB; 4 MiB by default.</param>
    /// <param name="stripeCount">The number of OSTs to stripe over: 1 by default, -1 for all.</param>
    /// <param name="stripeOffset">The OST of the first stripe, or -1 (the default) to let the allocator choose.</param>
    /// <param name="pool">The OST pool to place the objects in (<see cref="LayoutComponent.Pool"/>), or null (the default) for any OST.</param>
    /// <returns>The layout, not yet instantiated.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range.</exception>
    /// <exception cref="ArgumentException">The stripe size is not a multiple of 64 KiB, or the pool name is not valid.</exception>
    public static FileLayout Raid0(long stripeSize = LayoutDefaults.DefaultStripeSize, int stripeCount = 1, int stripeOffset = -1, string? pool = null) =>
        new([new LayoutComponent(0, LayoutComponent.Eof, stripeSize, stripeCount, stripeOffset) { Pool = pool }], isComposite: false, generation: 0);

    /// <summary>Creates a composite (PFL) layout from components that cover the file from 0, in order.</summary>
    /// <param name="components">
    /// 1 to 64 components; the first starts at 0 and each next one starts where the previous ends. The last usually ends
    /// at <see cref="LayoutComponent.Eof"/>; one that ends before leaves room for components added later, and writes
    /// past it fail meanwhile (ENODATA), as in Lustre.
    /// </param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentException">The components do not tile the file; the message names the component and the problem.</exception>
    public static FileLayout Composite(IEnumerable<LayoutComponent> components)
    {
        ArgumentNullException.ThrowIfNull(components);
        return new FileLayout([.. components], isComposite: true, generation: 0);
    }

    /// <summary>Creates a mirrored layout: one mirror per layout given, with ids 1, 2, ... and no flags.</summary>
    /// <param name="mirrors">1 to <see cref="MaxMirrors"/> layouts, none mirrored itself; instantiated ones must use disjoint OSTs.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentException">There are no mirrors or too many, a mirror is mirrored itself, or two mirrors share an OST.</exception>
    public static FileLayout Mirrored(IEnumerable<FileLayout> mirrors)
    {
        ArgumentNullException.ThrowIfNull(mirrors);

        // LayoutMirror refuses a null or mirrored layout itself.
        return new FileLayout([.. mirrors.Select((layout, i) => new LayoutMirror(i + 1, layout))], generation: 0);
    }

    /// <summary>Creates a mirrored layout from mirrors with ids and flags of their own, e.g. one marked <see cref="MirrorFlags.Prefer"/> for reads.</summary>
    /// <param name="mirrors">1 to <see cref="MaxMirrors"/> mirrors with distinct ids; instantiated ones must use disjoint OSTs.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentException">There are no mirrors or too many, two share an id or an OST.</exception>
    public static FileLayout Mirrored(IEnumerable<LayoutMirror> mirrors)
    {
        ArgumentNullException.ThrowIfNull(mirrors);
        return new FileLayout([.. mirrors], generation: 0);
    }

    /// <summary>Creates a mirrored layout from <paramref name="count"/> copies of one layout template, with ids 1 to <paramref name="count"/>.</summary>
    /// <param name="count">1 to <see cref="MaxMirrors"/>.</param>
    /// <param name="template">The layout of each mirror; not instantiated (each mirror gets its own objects) and not mirrored.</param>
    /// <returns>The layout.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is out of range.</exception>
    /// <exception cref="ArgumentException">The template names objects or is mirrored.</exception>
    public static FileLayout Mirrored(int count, FileLayout template)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, MaxMirrors);
        if (template.ObjectCount > 0)
        {
            throw new ArgumentException("A mirror template must not name OST objects: each mirror gets its own.", nameof(template));
        }

        return Mirrored(Enumerable.Repeat(template, count));
    }

    /// <summary>Creates a mirrored layout exactly as stored, for the codec and the metadata server.</summary>
    internal static FileLayout Create(LayoutMirror[] mirrors, uint generation) => new(mirrors, generation);

    /// <summary>Returns a copy with other mirrors, keeping the generation.</summary>
    /// <exception cref="ArgumentException">The mirrors are not a valid set (see <see cref="Mirrored(IEnumerable{FileLayout})"/>).</exception>
    internal FileLayout WithMirrors(LayoutMirror[] mirrors) => new(mirrors, Generation);

    /// <summary>The mirror with id <paramref name="id"/>, or null.</summary>
    /// <param name="id">A mirror id.</param>
    /// <returns>The mirror, or null when the layout has none with that id.</returns>
    public LayoutMirror? MirrorById(int id) => Array.Find(_mirrors, m => m.Id == id);

    /// <summary>Every object of the file, in every mirror: what a destroy or a truncate must reach.</summary>
    internal LayoutObjects AllObjects() => new(this);

    /// <summary>Every component of the file, in every mirror.</summary>
    internal IEnumerable<LayoutComponent> AllComponents() =>
        IsMirrored ? _mirrors.SelectMany(m => m.Layout.Components) : Components;

    /// <summary>Creates a layout exactly as stored, for the codec.</summary>
    internal static FileLayout Create(LayoutComponent[] components, bool isComposite, uint generation) =>
        new(components, isComposite, generation);

    /// <summary>Returns a copy with other components (for example, newly instantiated ones), keeping the kind and generation.</summary>
    /// <param name="components">The new components, which must tile the file as for <see cref="Composite"/>; exactly one for a plain layout.</param>
    /// <returns>The new layout.</returns>
    /// <exception cref="ArgumentException">The components do not tile the file.</exception>
    /// <exception cref="InvalidOperationException">The layout is mirrored: change a mirror's layout instead.</exception>
    public FileLayout WithComponents(IReadOnlyList<LayoutComponent> components)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (IsMirrored)
        {
            throw new InvalidOperationException("A mirrored layout's components belong to its mirrors: change a mirror's layout instead.");
        }

        return new FileLayout([.. components], IsComposite, Generation);
    }

    /// <summary>Returns a copy with another generation.</summary>
    /// <param name="generation">The new generation.</param>
    /// <returns>The new layout.</returns>
    public FileLayout WithGeneration(uint generation) => IsMirrored ? new(_mirrors, generation) : new(_components, IsComposite, generation);

    /// <summary>Returns the component whose extent holds <paramref name="fileOffset"/>.</summary>
    /// <param name="fileOffset">A file offset, at least 0 and below <see cref="End"/>.</param>
    /// <returns>The component.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fileOffset"/> is negative, or at or past <see cref="End"/> (no component holds it).</exception>
    public LayoutComponent ComponentAt(long fileOffset)
    {
        var index = IndexOfComponent(fileOffset);
        return index >= 0
            ? _components[index]
            : throw new ArgumentOutOfRangeException(nameof(fileOffset), fileOffset, $"No component holds offset {fileOffset}: the layout ends at {End}.");
    }

    /// <summary>The component at <paramref name="index"/>, without going through the read-only wrapper.</summary>
    internal LayoutComponent ComponentAtIndex(int index) => _components[index];

    /// <summary>The index of the component whose extent holds <paramref name="fileOffset"/>, or -1 when the layout ends at or before it.</summary>
    internal int IndexOfComponent(long fileOffset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fileOffset);
        ArgumentOutOfRangeException.ThrowIfEqual(fileOffset, LayoutComponent.Eof);

        // At most 64 components, usually 1 to 3: a linear scan beats a binary search here.
        var index = 0;
        while (_components[index].End <= fileOffset)
        {
            if (++index == _components.Length)
            {
                return -1;
            }
        }

        return index;
    }

    /// <summary>Returns the layout as text: its kind, generation and components, one per line for a composite layout.</summary>
    /// <returns>The layout as text.</returns>
    public override string ToString()
    {
        var builder = new StringBuilder();
        if (IsMirrored)
        {
            builder.Append(CultureInfo.InvariantCulture, $"mirrored generation={Generation} mirrors={_mirrors.Length}");
            foreach (var mirror in _mirrors)
            {
                builder.Append(CultureInfo.InvariantCulture, $"\n  {mirror}");
            }

            return builder.ToString();
        }

        if (!IsComposite)
        {
            builder.Append(CultureInfo.InvariantCulture, $"raid0 generation={Generation} ");
            _components[0].AppendTo(builder);
            return builder.ToString();
        }

        builder.Append(CultureInfo.InvariantCulture, $"composite generation={Generation} components={_components.Length}");
        for (var i = 0; i < _components.Length; i++)
        {
            builder.Append(CultureInfo.InvariantCulture, $"\n  {i}: ");
            _components[i].AppendTo(builder);
        }

        return builder.ToString();
    }

    private static void ValidateMirrors(LayoutMirror[] mirrors)
    {
        if (mirrors.Length is 0 or > MaxMirrors)
        {
            throw new ArgumentException($"A mirrored layout has 1 to {MaxMirrors} mirrors, got {mirrors.Length}.", nameof(mirrors));
        }

        var osts = new Dictionary<int, int>();
        for (var i = 0; i < mirrors.Length; i++)
        {
            var mirror = mirrors[i] ?? throw new ArgumentException($"mirror {i} is null.", nameof(mirrors));
            for (var j = 0; j < i; j++)
            {
                if (mirrors[j].Id == mirror.Id)
                {
                    throw new ArgumentException($"mirror id {mirror.Id} appears twice.", nameof(mirrors));
                }
            }

            if (mirror.Layout.HasDataOnMdt)
            {
                throw new ArgumentException($"mirror {mirror.Id} has a Data-on-MDT component: mirrored layouts keep every copy on OSTs.", nameof(mirrors));
            }

            // Disjoint OSTs: a mirror that shared one with another would be lost with it.
            foreach (var obj in mirror.Layout.AllObjects())
            {
                if (osts.TryGetValue(obj.OstIndex, out var other) && other != mirror.Id)
                {
                    throw new ArgumentException($"mirrors {other} and {mirror.Id} both use OST {obj.OstIndex}: mirrors must be on different OSTs.", nameof(mirrors));
                }

                osts[obj.OstIndex] = mirror.Id;
            }
        }
    }

    private static void Validate(LayoutComponent[] components, bool isComposite)
    {
        if (components.Length == 0)
        {
            throw new ArgumentException("A layout needs at least one component.", nameof(components));
        }

        if (components.Length > LayoutDefaults.MaxComponents)
        {
            throw new ArgumentException($"A layout has at most {LayoutDefaults.MaxComponents} components, got {components.Length}.", nameof(components));
        }

        if (!isComposite && components.Length != 1)
        {
            throw new ArgumentException($"A plain RAID0 layout has exactly one component, got {components.Length}; use a composite layout.", nameof(components));
        }

        HashSet<OstObject>? seen = null;
        for (var i = 0; i < components.Length; i++)
        {
            var component = components[i] ?? throw new ArgumentException($"component {i} is null.", nameof(components));
            if (i == 0 && component.Start != 0)
            {
                throw new ArgumentException($"component 0 starts at {component.Start}: the first component must start at 0.", nameof(components));
            }

            if (component.IsOnMdt && i > 0)
            {
                throw new ArgumentException($"component {i} is a Data-on-MDT component: only the first component can be (lfs: \"'mdt' layout can be only the first one\").", nameof(components));
            }

            if (component.IsOnMdt && !isComposite)
            {
                throw new ArgumentException("A Data-on-MDT component needs a composite layout: a plain RAID0 layout's only component is striped over OSTs.", nameof(components));
            }

            if (i > 0 && component.Start != components[i - 1].End)
            {
                throw new ArgumentException($"component {i} starts at {component.Start} but component {i - 1} ends at {components[i - 1].End}: extents must be contiguous.", nameof(components));
            }

            // Each component has its own objects; sharing one would let two file bytes land on the same object byte. A
            // component's own objects are distinct already (LayoutComponent checks), so one component needs no set.
            for (var s = 0; components.Length > 1 && s < component.Objects.Count; s++)
            {
                seen ??= [];
                if (!seen.Add(component.ObjectAt(s)))
                {
                    throw new ArgumentException($"component {i} object {s} ({component.ObjectAt(s)}) is already used by an earlier component.", nameof(components));
                }
            }
        }

        // A PFL layout may stop short of EOF, as Lustre's may (lfs setstripe --comp-add extends it); a plain one may not.
        var last = components[^1];
        if (!isComposite && last.End != LayoutComponent.Eof)
        {
            throw new ArgumentException($"component {components.Length - 1} ends at {last.End}: a plain layout must extend to EOF.", nameof(components));
        }
    }
}
