namespace Lustre.Checkpoints;

/// <summary>
/// Box arithmetic on row-major tensors, with no I/O: where two blocks of a tensor overlap, which contiguous byte runs
/// copy one box of a stored tensor into another layout, and how those runs are grouped into reads. Slicing a stored
/// tensor and assembling a tensor from shards both come down to this.
/// </summary>
internal static class TensorBlocks
{
    /// <summary>
    /// The overlap of the box at <paramref name="aOffsets"/> of <paramref name="aShape"/> with the one at
    /// <paramref name="bOffsets"/> of <paramref name="bShape"/> (all in the same tensor's coordinates).
    /// </summary>
    /// <returns>False when they share no element; otherwise <paramref name="start"/> and <paramref name="extent"/> hold the overlap.</returns>
    public static bool TryIntersect(
        ReadOnlySpan<long> aOffsets, ReadOnlySpan<long> aShape, ReadOnlySpan<long> bOffsets, ReadOnlySpan<long> bShape, Span<long> start, Span<long> extent)
    {
        for (var i = 0; i < aShape.Length; i++)
        {
            var from = Math.Max(aOffsets[i], bOffsets[i]);
            var to = Math.Min(aOffsets[i] + aShape[i], bOffsets[i] + bShape[i]);
            if (to <= from)
            {
                return false;
            }

            start[i] = from;
            extent[i] = to - from;
        }

        return true;
    }

    /// <summary>The number of elements of a shape (1 for a scalar), checked against overflow.</summary>
    public static long Volume(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (var dimension in shape)
        {
            count = checked(count * dimension);
        }

        return count;
    }

    /// <summary>
    /// Appends the byte runs that copy a box of <paramref name="extent"/> elements from a row-major source of
    /// <paramref name="sourceShape"/> whose first byte is at <paramref name="sourceBase"/> (the box starting at
    /// <paramref name="sourceStart"/> there) into a row-major destination of <paramref name="destinationShape"/> at
    /// <paramref name="destinationBase"/> (the box starting at <paramref name="destinationStart"/>). Each run is contiguous
    /// in both, as long as the trailing dimensions allow; runs come out in increasing source order.
    /// </summary>
    /// <returns>The bytes the box holds.</returns>
    public static long AddCopies(
        List<CopyBlock> blocks,
        long sourceBase,
        ReadOnlySpan<long> sourceShape,
        ReadOnlySpan<long> sourceStart,
        long destinationBase,
        ReadOnlySpan<long> destinationShape,
        ReadOnlySpan<long> destinationStart,
        ReadOnlySpan<long> extent,
        int elementSize)
    {
        var n = extent.Length;
        var total = checked(Volume(extent) * elementSize);
        if (total == 0)
        {
            return 0;
        }

        if (n == 0)
        {
            Append(blocks, new CopyBlock(sourceBase, destinationBase, elementSize));
            return elementSize;
        }

        var sourceStride = Strides(sourceShape, elementSize);
        var destinationStride = Strides(destinationShape, elementSize);

        // The trailing dimensions the box spans whole in both layouts join the innermost run.
        var k = n - 1;
        while (k > 0 && extent[k] == sourceShape[k] && extent[k] == destinationShape[k])
        {
            k--;
        }

        var run = (long)elementSize;
        for (var j = k; j < n; j++)
        {
            run *= extent[j];
        }

        long source = sourceBase;
        long destination = destinationBase;
        for (var j = 0; j < n; j++)
        {
            source += sourceStart[j] * sourceStride[j];
            destination += destinationStart[j] * destinationStride[j];
        }

        // An odometer over the dimensions before k.
        var index = new long[k];
        while (true)
        {
            Append(blocks, new CopyBlock(source, destination, run));
            var j = k - 1;
            for (; j >= 0; j--)
            {
                index[j]++;
                source += sourceStride[j];
                destination += destinationStride[j];
                if (index[j] < extent[j])
                {
                    break;
                }

                source -= extent[j] * sourceStride[j];
                destination -= extent[j] * destinationStride[j];
                index[j] = 0;
            }

            if (j < 0)
            {
                return total;
            }
        }
    }

    /// <summary>
    /// Groups <paramref name="blocks"/> into reads of a source: a read never crosses a multiple of <paramref name="granule"/>
    /// (a checkpoint's chunk, so a read of a whole chunk can be checked against its checksum) and spans the gaps between
    /// runs smaller than <paramref name="gapLimit"/> (one read costs less than two there). The pieces of each read go
    /// to <paramref name="pieces"/>, blocks split where a read ends.
    /// </summary>
    public static List<BlockRead> PlanReads(List<CopyBlock> blocks, long granule, long gapLimit, List<CopyBlock> pieces)
    {
        blocks.Sort(static (a, b) => a.Source.CompareTo(b.Source));
        var reads = new List<BlockRead>();
        var current = default(BlockRead);
        var open = false;
        foreach (var block in blocks)
        {
            var offset = 0L;
            while (offset < block.Length)
            {
                var source = block.Source + offset;
                var granuleEnd = ((source / granule) + 1) * granule;
                var length = Math.Min(block.Length - offset, granuleEnd - source);
                var piece = new CopyBlock(source, block.Destination + offset, length);
                if (open && source / granule == (current.End - 1) / granule && source - current.End < gapLimit)
                {
                    current = current with { End = Math.Max(current.End, source + length), Count = current.Count + 1 };
                }
                else
                {
                    if (open)
                    {
                        reads.Add(current);
                    }

                    current = new BlockRead(source, source + length, pieces.Count, 1);
                    open = true;
                }

                pieces.Add(piece);
                offset += length;
            }
        }

        if (open)
        {
            reads.Add(current);
        }

        return reads;
    }

    private static long[] Strides(ReadOnlySpan<long> shape, int elementSize)
    {
        var strides = new long[shape.Length];
        long stride = elementSize;
        for (var j = shape.Length - 1; j >= 0; j--)
        {
            strides[j] = stride;
            stride *= shape[j];
        }

        return strides;
    }

    private static void Append(List<CopyBlock> blocks, CopyBlock block)
    {
        if (blocks.Count > 0 && blocks[^1] is var last && last.Source + last.Length == block.Source && last.Destination + last.Length == block.Destination)
        {
            blocks[^1] = last with { Length = last.Length + block.Length };
            return;
        }

        blocks.Add(block);
    }
}

/// <summary>A contiguous run of bytes to copy: from <see cref="Source"/> (a file offset) to <see cref="Destination"/> (an offset in the destination memory).</summary>
internal readonly record struct CopyBlock(long Source, long Destination, long Length);

/// <summary>One read of a source, bytes [<see cref="Start"/>, <see cref="End"/>), serving pieces [<see cref="First"/>, <see cref="First"/> + <see cref="Count"/>).</summary>
internal readonly record struct BlockRead(long Start, long End, int First, int Count);
