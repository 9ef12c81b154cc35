using Lustre.Checkpoints;
using ZstdSharp;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>The chunk codec's raw frames (standard zstd, read back by the reference decoder's port) and its choice of what is worth compressing.</summary>
public sealed class ZstdChunkCodecTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(ZstdChunkCodec.MaxBlockLength - 1)]
    [InlineData(ZstdChunkCodec.MaxBlockLength)]
    [InlineData(ZstdChunkCodec.MaxBlockLength + 1)]
    [InlineData((3 * ZstdChunkCodec.MaxBlockLength) + 77)]
    [InlineData(8 << 20)]
    public void A_raw_frame_split_anywhere_decompresses_to_its_source_and_stays_within_the_bound(int length)
    {
        var source = new byte[length];
        new Random(length).NextBytes(source);
        var frameLength = ZstdChunkCodec.RawFrameLength(length);
        Assert.InRange(frameLength, length + 1, ZstdChunkCodec.MaxFrameLength(length));

        foreach (var headLength in new[] { frameLength, Math.Min(length, frameLength), frameLength / 2, 3 })
        {
            var head = new byte[headLength];
            var tail = new byte[frameLength - headLength];
            ZstdChunkCodec.WriteRawFrame(source, head, tail);

            using var decompressor = new Decompressor();
            var back = new byte[length];
            Assert.Equal(length, decompressor.Unwrap([.. head, .. tail], back));
            Assert.Equal(source, back);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4095)]
    [InlineData(4096 - 8)]
    [InlineData(12345)]
    public void Padding_ends_a_raw_frame_on_a_page_and_decoders_pass_over_it(long start)
    {
        const int length = 2 << 20;
        var source = new byte[length];
        new Random(3).NextBytes(source);
        var frame = new byte[ZstdChunkCodec.RawFrameLength(length) + ZstdChunkCodec.MaxPaddingLength];
        var rawLength = ZstdChunkCodec.RawFrameLength(length);
        ZstdChunkCodec.WriteRawFrame(source, frame.AsSpan(0, rawLength), []);

        var padding = ZstdChunkCodec.Pad(frame.AsSpan(rawLength), start, rawLength, length);
        Assert.Equal(0, (start + rawLength + padding) % 4096);
        Assert.InRange(rawLength + padding, rawLength, ZstdChunkCodec.MaxFrameLength(length));

        using var decompressor = new Decompressor();
        var back = new byte[length];
        Assert.Equal(length, decompressor.Unwrap(frame.AsSpan(0, rawLength + padding), back));
        Assert.Equal(source, back);
    }

    [Fact]
    public void No_padding_that_would_take_a_frame_past_the_bound_readers_insist_on()
    {
        // A 256 KiB chunk's bound leaves 1 KiB beside its content: not room for up to a page of padding.
        const int length = 256 << 10;
        var rawLength = ZstdChunkCodec.RawFrameLength(length);
        Assert.Equal(0, ZstdChunkCodec.Pad(new byte[ZstdChunkCodec.MaxPaddingLength], 0, rawLength, length));
        Assert.Equal(0, ZstdChunkCodec.Pad(new byte[ZstdChunkCodec.MaxPaddingLength], 1, rawLength, length));
    }

    [Fact]
    public void A_raw_frame_refuses_a_destination_of_the_wrong_size()
    {
        var error = Assert.Throws<ArgumentException>(() => ZstdChunkCodec.WriteRawFrame(new byte[100], new byte[50], new byte[50]));
        Assert.Contains("takes 112 bytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(19)]
    public void Only_data_that_a_sample_shows_shrinking_by_an_eighth_is_worth_compressing(int level)
    {
        using var codec = new ZstdChunkCodec(level);
        var random = new Random(5);

        var noise = new byte[1 << 20];
        random.NextBytes(noise);
        Assert.False(codec.WorthCompressing(noise));

        // Trained weights (level 1 stores them at about 0.93 of their size), and the same with three in four zeroed.
        var weights = Weights("w", 256 * 1024, 6).Data.ToArray();
        Assert.False(codec.WorthCompressing(weights));
        var sparse = new byte[weights.Length];
        for (var i = 0; i < weights.Length; i += 16)
        {
            weights.AsSpan(i, 4).CopyTo(sparse.AsSpan(i));
        }

        // Both shrink far more than an eighth, the small chunk sampled whole.
        Assert.True(codec.WorthCompressing(sparse));
        Assert.True(codec.WorthCompressing(new byte[1000]));
        Assert.False(codec.WorthCompressing([]));
    }
}
