using System.Buffers.Binary;

namespace Lustre.Layouts;

/// <summary>
/// The binary form of a <see cref="FileLayout"/>, the same on the wire and in the metadata store.
/// Little-endian:
/// <code>
/// u8 version (1) | u8 flags (bit 0: composite) | u32 generation | u16 component count
/// per component: i64 start | i64 end | i64 stripe size | i32 stripe count | i32 stripe offset
///                | u16 pattern (0 RAID0; 0x100 Data-on-MDT, Lustre's LOV_PATTERN_MDT) | u16 object count
///                | per object: i32 OST index | u64 object id
/// </code>
/// A Data-on-MDT component has start 0, stripe size = end, stripe count 0, no objects, and as stripe offset the index
/// of its MDT (-1 in a template).
/// A mirrored layout is version 2, flags bit 1 set, and its u16 count counts mirrors; each mirror is
/// <c>u16 id | u16 mirror flags (1 stale, 2 prefer) | u8 composite | u16 component count | components as above</c>.
/// Layouts without mirrors are still written as version 1, so stored layouts and old readers keep working.
/// Flags bit 2 (either version) says that every component carries its OST pool, <c>u8 length | ASCII name</c>
/// (length 0: no pool), right after its u16 object count; it is set only when a component has a pool, so layouts
/// without pools are written byte for byte as before.
/// </summary>
/// <remarks>
/// Decoding never trusts a count before checking it against its limit and the bytes that remain,
/// and every decoded value goes through the same validation as the public constructors; any
/// failure is an <see cref="InvalidDataException"/> that names the field.
/// </remarks>
internal static class LayoutCodec
{
    /// <summary>The format version this code writes and reads.</summary>
    public const byte FormatVersion = 1;

    /// <summary>The format version of mirrored layouts.</summary>
    public const byte MirroredFormatVersion = 2;

    /// <summary>The pattern field of a Data-on-MDT component: Lustre's <c>LOV_PATTERN_MDT</c>.</summary>
    public const ushort MdtPattern = 0x100;

    private const byte CompositeFlag = 0x01;
    private const byte MirroredFlag = 0x02;
    private const byte PoolsFlag = 0x04;
    private const int HeaderLength = 1 + 1 + 4 + 2;
    private const int MirrorHeaderLength = 2 + 2 + 1 + 2;
    private const int ComponentLength = 8 + 8 + 8 + 4 + 4 + 2 + 2;
    private const int ObjectLength = 4 + 8;

    /// <summary>The number of bytes <see cref="Encode(FileLayout, Span{byte})"/> writes for <paramref name="layout"/>.</summary>
    public static int GetEncodedLength(FileLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var pools = HasPools(layout);
        if (!layout.IsMirrored)
        {
            return HeaderLength + ComponentsLength(layout, pools);
        }

        var length = HeaderLength;
        for (var m = 0; m < layout.Mirrors.Count; m++)
        {
            length += MirrorHeaderLength + ComponentsLength(layout.Mirrors[m].Layout, pools);
        }

        return length;
    }

    private static int ComponentsLength(FileLayout layout, bool pools)
    {
        var length = (layout.Components.Count * ComponentLength) + (layout.ObjectCount * ObjectLength);
        for (var c = 0; pools && c < layout.Components.Count; c++)
        {
            length += 1 + (layout.ComponentAtIndex(c).Pool?.Length ?? 0);
        }

        return length;
    }

    /// <summary>True when a component of <paramref name="layout"/> (of any mirror) names a pool: the layout is written with <see cref="PoolsFlag"/>.</summary>
    private static bool HasPools(FileLayout layout)
    {
        if (!layout.IsMirrored)
        {
            return ComponentsHavePools(layout);
        }

        for (var m = 0; m < layout.Mirrors.Count; m++)
        {
            if (ComponentsHavePools(layout.Mirrors[m].Layout))
            {
                return true;
            }
        }

        return false;
    }

    // Index loops: a foreach over the components' IReadOnlyList would allocate an enumerator, and an encode runs these twice.
    private static bool ComponentsHavePools(FileLayout layout)
    {
        for (var c = 0; c < layout.Components.Count; c++)
        {
            if (layout.ComponentAtIndex(c).Pool is not null)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The binary form of <paramref name="layout"/>, in an array of its own.</summary>
    public static byte[] Encode(FileLayout layout)
    {
        var encoded = new byte[GetEncodedLength(layout)];
        Encode(layout, encoded);
        return encoded;
    }

    /// <summary>True when <paramref name="encoded"/> is a mirrored layout, told from its version byte without decoding it.</summary>
    public static bool IsMirrored(ReadOnlySpan<byte> encoded) => encoded.Length > 0 && encoded[0] == MirroredFormatVersion;

    /// <summary>Writes <paramref name="layout"/> at the start of <paramref name="destination"/>, which must hold <see cref="GetEncodedLength"/> bytes.</summary>
    public static void Encode(FileLayout layout, Span<byte> destination)
    {
        var length = GetEncodedLength(layout);
        if (destination.Length < length)
        {
            throw new ArgumentException($"The layout needs {length} bytes, the destination has {destination.Length}.", nameof(destination));
        }

        var pools = HasPools(layout);
        var poolsFlag = pools ? PoolsFlag : (byte)0;
        if (layout.IsMirrored)
        {
            destination[0] = MirroredFormatVersion;
            destination[1] = (byte)(CompositeFlag | MirroredFlag | poolsFlag);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[2..], layout.Generation);
            BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)layout.Mirrors.Count);
            var at = HeaderLength;
            for (var m = 0; m < layout.Mirrors.Count; m++)
            {
                var mirror = layout.Mirrors[m];
                BinaryPrimitives.WriteUInt16LittleEndian(destination[at..], (ushort)mirror.Id);
                BinaryPrimitives.WriteUInt16LittleEndian(destination[(at + 2)..], (ushort)mirror.Flags);
                destination[at + 4] = mirror.Layout.IsComposite ? (byte)1 : (byte)0;
                BinaryPrimitives.WriteUInt16LittleEndian(destination[(at + 5)..], (ushort)mirror.Layout.Components.Count);
                at = EncodeComponents(mirror.Layout, destination, at + MirrorHeaderLength, pools);
            }

            return;
        }

        destination[0] = FormatVersion;
        destination[1] = (byte)((layout.IsComposite ? CompositeFlag : 0) | poolsFlag);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[2..], layout.Generation);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)layout.Components.Count);
        EncodeComponents(layout, destination, HeaderLength, pools);
    }

    private static int EncodeComponents(FileLayout layout, Span<byte> destination, int position, bool pools)
    {
        for (var c = 0; c < layout.Components.Count; c++)
        {
            var component = layout.ComponentAtIndex(c);
            var span = destination[position..];
            BinaryPrimitives.WriteInt64LittleEndian(span, component.Start);
            BinaryPrimitives.WriteInt64LittleEndian(span[8..], component.End);
            BinaryPrimitives.WriteInt64LittleEndian(span[16..], component.StripeSize);
            BinaryPrimitives.WriteInt32LittleEndian(span[24..], component.StripeCount);
            BinaryPrimitives.WriteInt32LittleEndian(span[28..], component.StripeOffset);
            BinaryPrimitives.WriteUInt16LittleEndian(span[32..], component.IsOnMdt ? MdtPattern : (ushort)0);
            BinaryPrimitives.WriteUInt16LittleEndian(span[34..], (ushort)component.Objects.Count);
            position += ComponentLength;
            if (pools)
            {
                // Pool names are ASCII (PoolName): one byte per character.
                var pool = component.Pool ?? string.Empty;
                destination[position++] = (byte)pool.Length;
                position += System.Text.Encoding.ASCII.GetBytes(pool, destination[position..]);
            }

            for (var s = 0; s < component.Objects.Count; s++)
            {
                var obj = component.ObjectAt(s);
                BinaryPrimitives.WriteInt32LittleEndian(destination[position..], obj.OstIndex);
                BinaryPrimitives.WriteUInt64LittleEndian(destination[(position + 4)..], obj.ObjectId);
                position += ObjectLength;
            }
        }

        return position;
    }

    /// <summary>Reads a layout that fills all of <paramref name="source"/>.</summary>
    /// <exception cref="InvalidDataException">The bytes are truncated, carry an unknown version or flag, a count over its limit, trailing bytes, or values no valid layout has.</exception>
    public static FileLayout Decode(ReadOnlySpan<byte> source)
    {
        var reader = new Reader(source);
        var version = reader.ReadByte("version");
        if (version is not (FormatVersion or MirroredFormatVersion))
        {
            throw new InvalidDataException($"Layout field 'version' is {version}; only versions {FormatVersion} and {MirroredFormatVersion} are known.");
        }

        var flags = reader.ReadByte("flags");
        var knownFlags = version == FormatVersion ? CompositeFlag | PoolsFlag : CompositeFlag | MirroredFlag | PoolsFlag;
        if ((flags & ~knownFlags) != 0)
        {
            throw new InvalidDataException($"Layout field 'flags' has unknown bits set for version {version}: 0x{flags:x2}.");
        }

        if (version == MirroredFormatVersion && (flags & MirroredFlag) == 0)
        {
            throw new InvalidDataException($"Layout field 'flags' is 0x{flags:x2}: version {MirroredFormatVersion} layouts are mirrored, and must say so.");
        }

        var generation = reader.ReadUInt32("generation");
        var pools = (flags & PoolsFlag) != 0;
        FileLayout layout;
        if ((flags & MirroredFlag) != 0)
        {
            var mirrorCount = reader.ReadCount("mirror count", 1, FileLayout.MaxMirrors, MirrorHeaderLength + ComponentLength);
            var mirrors = new LayoutMirror[mirrorCount];
            for (var m = 0; m < mirrorCount; m++)
            {
                var id = reader.ReadUInt16("mirror id");
                var mirrorFlags = reader.ReadUInt16("mirror flags");
                var composite = reader.ReadByte("mirror composite");
                if (composite > 1)
                {
                    throw new InvalidDataException($"Layout mirror {m} field 'composite' is {composite}; it must be 0 or 1.");
                }

                var components = ReadComponents(ref reader, pools);
                try
                {
                    mirrors[m] = new LayoutMirror(id, FileLayout.Create(components, composite == 1, 0), (MirrorFlags)mirrorFlags);
                }
                catch (ArgumentException ex)
                {
                    throw new InvalidDataException($"Layout mirror {m} is invalid: {ex.Message}", ex);
                }
            }

            layout = Build(mirrors, generation);
        }
        else
        {
            layout = Build(ReadComponents(ref reader, pools), (flags & CompositeFlag) != 0, generation);
        }

        if (reader.Remaining != 0)
        {
            throw new InvalidDataException($"Layout has {reader.Remaining} trailing bytes after its last component.");
        }

        return layout;
    }

    // Two overloads rather than one taking a lambda: a decode allocates no closure.
    private static FileLayout Build(LayoutComponent[] components, bool composite, uint generation)
    {
        try
        {
            return FileLayout.Create(components, composite, generation);
        }
        catch (ArgumentException ex)
        {
            throw Invalid(ex);
        }
    }

    private static FileLayout Build(LayoutMirror[] mirrors, uint generation)
    {
        try
        {
            return FileLayout.Create(mirrors, generation);
        }
        catch (ArgumentException ex)
        {
            throw Invalid(ex);
        }
    }

    private static InvalidDataException Invalid(ArgumentException ex) => new($"Layout is invalid: {ex.Message}", ex);

    private static LayoutComponent[] ReadComponents(ref Reader reader, bool pools)
    {
        var componentCount = reader.ReadCount("component count", 1, LayoutDefaults.MaxComponents, ComponentLength);
        var components = new LayoutComponent[componentCount];
        for (var c = 0; c < componentCount; c++)
        {
            var start = reader.ReadInt64("start");
            var end = reader.ReadInt64("end");
            var stripeSize = reader.ReadInt64("stripe size");
            var stripeCount = reader.ReadInt32("stripe count");
            var stripeOffset = reader.ReadInt32("stripe offset");
            var pattern = reader.ReadUInt16("pattern");
            if (pattern is not (0 or MdtPattern))
            {
                throw new InvalidDataException($"Layout component {c} field 'pattern' is {pattern}; only 0 (RAID0) and 0x100 (Data-on-MDT) are known.");
            }

            var objectCount = reader.ReadCount("object count", 0, LayoutDefaults.MaxStripeCount, ObjectLength);
            var pool = pools ? reader.ReadPool() : null;
            if (pattern == MdtPattern)
            {
                components[c] = ReadDataOnMdt(c, start, end, stripeSize, stripeCount, stripeOffset, objectCount, pool);
                continue;
            }

            var objects = objectCount == 0 ? [] : new OstObject[objectCount];
            for (var s = 0; s < objectCount; s++)
            {
                objects[s] = new OstObject(reader.ReadInt32("OST index"), reader.ReadUInt64("object id"));
            }

            try
            {
                components[c] = new LayoutComponent(start, end, stripeSize, stripeCount, stripeOffset, objects) { Pool = pool };
            }
            catch (ArgumentException ex)
            {
                throw new InvalidDataException($"Layout component {c} is invalid: {ex.Message}", ex);
            }
        }

        return components;
    }

    /// <summary>A Data-on-MDT component's fields, checked against the only values one can have.</summary>
    private static LayoutComponent ReadDataOnMdt(int c, long start, long end, long stripeSize, int stripeCount, int stripeOffset, int objectCount, string? pool)
    {
        if (start != 0 || stripeSize != end || stripeCount != 0 || objectCount != 0 || pool is not null)
        {
            throw new InvalidDataException(
                $"Layout component {c} is Data-on-MDT but has start {start}, stripe size {stripeSize}, stripe count {stripeCount}, {objectCount} objects and pool '{pool}': it must start at 0, have its end ({end}) as stripe size, and no stripes, objects or pool.");
        }

        try
        {
            return LayoutComponent.DataOnMdt(end, stripeOffset);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"Layout component {c} is invalid: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The end of the Data-on-MDT component of an encoded layout (its first component), or 0 when it has none, read
    /// from fixed offsets without decoding: the MDS asks this of every inode it truncates, deletes or writes.
    /// </summary>
    public static long DataOnMdtEnd(ReadOnlySpan<byte> encoded)
    {
        // Version 1 only: mirrored layouts (version 2) hold no Data-on-MDT component.
        const int pattern = HeaderLength + 32;
        if (encoded.Length < HeaderLength + ComponentLength || encoded[0] != FormatVersion
            || BinaryPrimitives.ReadUInt16LittleEndian(encoded[pattern..]) != MdtPattern)
        {
            return 0;
        }

        // Trusted bytes (the MDT's own), but a damaged record must not yield an end no component can have.
        var end = BinaryPrimitives.ReadInt64LittleEndian(encoded[(HeaderLength + 8)..]);
        return end is > 0 and <= LayoutDefaults.MaxDataOnMdtSize ? end : 0;
    }

    private ref struct Reader(ReadOnlySpan<byte> source)
    {
        private readonly ReadOnlySpan<byte> _source = source;
        private int _position;

        public readonly int Remaining => _source.Length - _position;

        public byte ReadByte(string field) => Take(1, field)[0];

        public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));

        public int ReadInt32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));

        public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));

        public long ReadInt64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field));

        public ulong ReadUInt64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));

        /// <summary>A component's pool: u8 length (at most the longest pool name; 0 for none), then ASCII.</summary>
        public string? ReadPool()
        {
            var length = ReadByte("pool length");
            if (length > LayoutDefaults.MaxPoolNameLength)
            {
                throw new InvalidDataException($"Layout field 'pool length' is {length}; a pool name has at most {LayoutDefaults.MaxPoolNameLength} characters.");
            }

            // Non-ASCII bytes become '?', which the component's validation refuses as a pool name.
            return length == 0 ? null : System.Text.Encoding.ASCII.GetString(Take(length, "pool"));
        }

        /// <summary>Reads a u16 count and checks it against its limits and against the bytes its items need.</summary>
        public int ReadCount(string field, int min, int max, int itemLength)
        {
            int count = ReadUInt16(field);
            if (count < min || count > max)
            {
                throw new InvalidDataException($"Layout field '{field}' is {count}; it must be between {min} and {max}.");
            }

            if ((long)count * itemLength > Remaining)
            {
                throw new InvalidDataException($"Layout field '{field}' is {count}, needing {(long)count * itemLength} bytes, but only {Remaining} remain.");
            }

            return count;
        }

        private ReadOnlySpan<byte> Take(int count, string field)
        {
            if (count > Remaining)
            {
                throw new InvalidDataException($"Layout is truncated: field '{field}' needs {count} bytes, {Remaining} remain.");
            }

            var slice = _source.Slice(_position, count);
            _position += count;
            return slice;
        }
    }
}
