namespace Lustre.Layouts;

/// <summary>
/// The RAID0 mapping between file bytes and object bytes, in one place. Within a component
/// that starts at file offset B, byte <c>off</c> is in stripe <c>((off - B) / S) % C</c> at
/// object offset <c>((off - B) / (S * C)) * S + (off - B) % S</c>. Offsets are relative to the
/// component because, as in Lustre, each PFL component has its own objects that start at 0.
/// </summary>
/// <remarks>Pure and on the I/O hot path: no LINQ, no allocation except into the caller's list.</remarks>
internal static class StripeMath
{
    /// <summary>Locates a byte given by its offset from the start of its component.</summary>
    /// <returns>The stripe that holds the byte and the byte's offset within that stripe's object.</returns>
    public static (int Stripe, long ObjectOffset) Locate(long relativeOffset, long stripeSize, int stripeCount)
    {
        // Divide by the unit rather than by S * C: same result, and no product to overflow.
        var unit = relativeOffset / stripeSize;
        var within = relativeOffset - (unit * stripeSize);
        return ((int)(unit % stripeCount), ((unit / stripeCount) * stripeSize) + within);
    }

    /// <summary>
    /// Appends to <paramref name="result"/>, in file-offset order, the pieces of
    /// [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>): each
    /// piece is one contiguous run inside one stripe unit of one component, or (<see cref="StripeExtent.OnMdt"/>) the
    /// part of the range in the Data-on-MDT component, whole.
    /// </summary>
    /// <exception cref="InvalidOperationException">The range reaches a component whose objects are not allocated yet, or past the layout's end.</exception>
    public static void MapRange(FileLayout layout, long offset, long length, List<StripeExtent> result)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ThrowIfMirrored(layout);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, LayoutComponent.Eof - offset);
        if (length == 0)
        {
            return;
        }

        var end = offset + length;
        var position = offset;
        var index = layout.IndexOfComponent(position);
        while (position < end)
        {
            if (index < 0 || index == layout.Components.Count)
            {
                throw new InvalidOperationException($"Cannot map file bytes [{position}, {end}): the layout ends at {layout.End}.");
            }

            var component = layout.ComponentAtIndex(index);
            if (!component.IsInstantiated)
            {
                // A partly instantiated PFL layout is normal (Lustre allocates later components on first write),
                // so only the components the range touches must have objects.
                throw new InvalidOperationException($"Cannot map file bytes [{position}, {end}): layout component {index} [{component.Start}, {component.End}) has no objects yet.");
            }

            if (component.IsOnMdt)
            {
                // One piece: the MDT addresses Data-on-MDT bytes by file offset, however many there are.
                var onMdtEnd = Math.Min(component.End, end);
                result.Add(new StripeExtent(index, 0, default, position, position, onMdtEnd - position, OnMdt: true));
                position = onMdtEnd;
                index++;
                continue;
            }

            var stripeSize = component.StripeSize;
            var stripeCount = component.StripeCount;
            var pieceEnd = Math.Min(component.End, end);
            var relative = position - component.Start;
            var unit = relative / stripeSize;
            var within = relative - (unit * stripeSize);
            while (position < pieceEnd)
            {
                var stripe = (int)(unit % stripeCount);
                var run = Math.Min(stripeSize - within, pieceEnd - position);
                var objectOffset = ((unit / stripeCount) * stripeSize) + within;
                result.Add(new StripeExtent(index, stripe, component.ObjectAt(stripe), objectOffset, position, run));
                position += run;
                within = 0;
                unit++;
            }

            index++;
        }
    }

    /// <summary>
    /// How many bytes the object of stripe <paramref name="stripeIndex"/> holds (its size) when
    /// the file is exactly <paramref name="fileSize"/> bytes long: what truncate sets it to.
    /// </summary>
    public static long ObjectSizeForFileSize(long fileSize, long componentStart, long componentEnd, long stripeSize, int stripeCount, int stripeIndex)
    {
        var length = Math.Clamp(fileSize, componentStart, componentEnd) - componentStart;
        var units = length / stripeSize;
        var tail = length - (units * stripeSize);
        var fullRows = units / stripeCount;
        var stripeOfTail = (int)(units % stripeCount);

        // Every full row gives each stripe one whole unit; the partial row gives whole units
        // to the stripes before the tail's, the tail to its own, and nothing after it.
        var size = fullRows * stripeSize;
        if (stripeIndex < stripeOfTail)
        {
            size += stripeSize;
        }
        else if (stripeIndex == stripeOfTail)
        {
            size += tail;
        }

        return size;
    }

    /// <summary>
    /// The file size implied by the object of stripe <paramref name="stripeIndex"/> being
    /// <paramref name="objectSize"/> bytes: the file offset of its last byte + 1, clipped to
    /// the component end; 0 for an empty object. A file's size is the largest of these over
    /// all its objects (Lustre's "glimpse").
    /// </summary>
    public static long FileSizeFromObjectSize(long objectSize, long componentStart, long componentEnd, long stripeSize, int stripeCount, int stripeIndex)
    {
        if (objectSize <= 0)
        {
            return 0;
        }

        var last = objectSize - 1;
        var row = last / stripeSize;
        var within = last - (row * stripeSize);

        // A corrupt or huge object size must clip, not overflow: do the product in 128 bits.
        var relative = ((((Int128)row * stripeCount) + stripeIndex) * stripeSize) + within;
        var fileEnd = componentStart + relative + 1;
        return fileEnd >= componentEnd ? componentEnd : (long)fileEnd;
    }

    /// <summary>
    /// The file size implied by the sizes of all the layout's objects: the largest file size any
    /// object implies. <paramref name="objectSizes"/> has one entry per object, in component
    /// order then stripe order (<see cref="FileLayout.ObjectCount"/> entries; components without
    /// objects have none).
    /// </summary>
    public static long FileSizeFromObjectSizes(FileLayout layout, ReadOnlySpan<long> objectSizes)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ThrowIfWrongLength(layout, objectSizes.Length, nameof(objectSizes));
        long size = 0;
        var next = 0;
        for (var c = 0; c < layout.Components.Count; c++)
        {
            var component = layout.ComponentAtIndex(c);
            for (var s = 0; s < component.Objects.Count; s++)
            {
                var implied = FileSizeFromObjectSize(objectSizes[next++], component.Start, component.End, component.StripeSize, component.StripeCount, s);
                size = Math.Max(size, implied);
            }
        }

        return size;
    }

    /// <summary>
    /// Fills <paramref name="objectSizes"/> with the size every object must have for the file to
    /// be exactly <paramref name="fileSize"/> bytes (what truncate sets), one entry per object in
    /// component order then stripe order (<see cref="FileLayout.ObjectCount"/> entries).
    /// </summary>
    /// <exception cref="InvalidOperationException">The file size reaches into a component without objects, whose bytes would have nowhere to live.</exception>
    public static void ObjectSizesForFileSize(FileLayout layout, long fileSize, Span<long> objectSizes)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(fileSize);
        ThrowIfWrongLength(layout, objectSizes.Length, nameof(objectSizes));
        var next = 0;
        for (var c = 0; c < layout.Components.Count; c++)
        {
            var component = layout.ComponentAtIndex(c);
            if (!component.IsInstantiated)
            {
                if (fileSize > component.Start)
                {
                    throw new InvalidOperationException($"Cannot size objects for a {fileSize}-byte file: layout component {c} [{component.Start}, {component.End}) has no objects yet.");
                }

                continue;
            }

            for (var s = 0; s < component.StripeCount; s++)
            {
                objectSizes[next++] = ObjectSizeForFileSize(fileSize, component.Start, component.End, component.StripeSize, component.StripeCount, s);
            }
        }
    }

    /// <summary>A mirrored layout maps bytes through one of its mirrors: the caller must choose which.</summary>
    private static void ThrowIfMirrored(FileLayout layout)
    {
        if (layout.IsMirrored)
        {
            throw new ArgumentException("A mirrored layout has one mapping per mirror: map through a mirror's layout.", nameof(layout));
        }
    }

    private static void ThrowIfWrongLength(FileLayout layout, int length, string paramName)
    {
        ThrowIfMirrored(layout);
        if (length != layout.ObjectCount)
        {
            throw new ArgumentException($"Expected one entry per object ({layout.ObjectCount}), got {length}.", paramName);
        }
    }
}
