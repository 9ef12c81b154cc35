using Lustre.Checkpoints;

namespace Lustre.Tests.Checkpoints;

/// <summary>The box arithmetic behind slices and resharding: which byte runs a slice needs and how they become reads.</summary>
public sealed class TensorBlocksTests
{
    [Fact]
    public void Rows_of_a_row_major_tensor_are_one_run()
    {
        var blocks = new List<CopyBlock>();
        // Rows 2..5 of a [10, 6] F32 tensor stored from byte 100, into a [3, 6] buffer.
        var bytes = TensorBlocks.AddCopies(blocks, 100, [10, 6], [2, 0], 0, [3, 6], [0, 0], [3, 6], 4);

        Assert.Equal(72, bytes);
        Assert.Equal([new CopyBlock(100 + (2 * 24), 0, 72)], blocks);
    }

    [Fact]
    public void Columns_are_one_run_per_row_at_the_row_stride()
    {
        var blocks = new List<CopyBlock>();
        // Columns 1..3 of rows 0..2 of a [4, 5] I16 tensor into a [3, 2] buffer.
        TensorBlocks.AddCopies(blocks, 0, [4, 5], [0, 1], 0, [3, 2], [0, 0], [3, 2], 2);

        Assert.Equal([new CopyBlock(2, 0, 4), new CopyBlock(12, 4, 4), new CopyBlock(22, 8, 4)], blocks);
    }

    [Fact]
    public void A_whole_shard_copied_into_the_middle_of_a_wider_tensor_is_one_run_per_row()
    {
        var blocks = new List<CopyBlock>();
        // A [2, 3] U8 shard (contiguous at 50) that is columns 3..5 of a [2, 8] destination.
        TensorBlocks.AddCopies(blocks, 50, [2, 3], [0, 0], 0, [2, 8], [0, 3], [2, 3], 1);

        Assert.Equal([new CopyBlock(50, 3, 3), new CopyBlock(53, 11, 3)], blocks);
    }

    [Fact]
    public void Three_dimensions_scalars_and_empty_boxes()
    {
        var blocks = new List<CopyBlock>();
        // [2, 3, 4] U8; box [1:2, 0:3, 0:4] is the whole second matrix: one run of 12.
        TensorBlocks.AddCopies(blocks, 0, [2, 3, 4], [1, 0, 0], 0, [1, 3, 4], [0, 0, 0], [1, 3, 4], 1);
        Assert.Equal([new CopyBlock(12, 0, 12)], blocks);

        blocks.Clear();
        // Box [0:2, 1:2, 0:4]: row 1 of each matrix, 4 bytes at 4 and at 16.
        TensorBlocks.AddCopies(blocks, 0, [2, 3, 4], [0, 1, 0], 0, [2, 1, 4], [0, 0, 0], [2, 1, 4], 1);
        Assert.Equal([new CopyBlock(4, 0, 4), new CopyBlock(16, 4, 4)], blocks);

        blocks.Clear();
        Assert.Equal(8, TensorBlocks.AddCopies(blocks, 40, [], [], 0, [], [], [], 8));
        Assert.Equal([new CopyBlock(40, 0, 8)], blocks);

        blocks.Clear();
        Assert.Equal(0, TensorBlocks.AddCopies(blocks, 0, [4, 0], [0, 0], 0, [4, 0], [0, 0], [4, 0], 4));
        Assert.Empty(blocks);
    }

    [Fact]
    public void Overlaps_of_boxes()
    {
        var start = new long[2];
        var extent = new long[2];
        Assert.True(TensorBlocks.TryIntersect([0, 0], [13, 30], [10, 5], [10, 10], start, extent));
        Assert.Equal([10L, 5L], start);
        Assert.Equal([3L, 10L], extent);
        Assert.False(TensorBlocks.TryIntersect([0, 0], [13, 30], [13, 0], [13, 30], start, extent));
    }

    [Fact]
    public void Reads_join_runs_across_small_gaps_and_never_cross_a_granule()
    {
        var blocks = new List<CopyBlock>
        {
            new(1000, 0, 100),        // joined with the next: a gap of 100 bytes
            new(1200, 100, 100),
            new(200_000, 200, 50),    // a gap of 198 800 bytes: a read of its own
            new(1_048_000, 250, 1000), // crosses the 1 MiB granule at 1 048 576: split into two reads
        };
        var pieces = new List<CopyBlock>();

        var reads = TensorBlocks.PlanReads(blocks, granule: 1 << 20, gapLimit: TensorBlockReader.GapLimit, pieces);

        Assert.Equal(
            [new BlockRead(1000, 1300, 0, 2), new BlockRead(200_000, 200_050, 2, 1), new BlockRead(1_048_000, 1_048_576, 3, 1), new BlockRead(1_048_576, 1_049_000, 4, 1)],
            reads);
        Assert.Equal(new CopyBlock(1_048_576, 250 + 576, 424), pieces[4]);
    }
}
