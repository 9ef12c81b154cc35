using Lustre.Server.Stats;

namespace Lustre.Tests.Stats;

/// <summary>The counters behind stats, md_stats and brw_stats, against the shapes Lustre prints.</summary>
public sealed class CounterSetTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(3, 2)]
    [InlineData(4096, 12)]
    [InlineData(4097, 13)]
    [InlineData(long.MaxValue, 31)]
    public void Values_go_to_log2_buckets_as_lprocfs_oh_tally_log2(long value, int bucket) => Assert.Equal(bucket, CounterSet.Log2Bucket(value));

    [Theory]
    [InlineData(0, "1")]
    [InlineData(9, "512")]
    [InlineData(10, "1K")]
    [InlineData(20, "1M")]
    [InlineData(31, "2G")]
    public void Buckets_are_named_as_lprocfs_names_them(int bucket, string name) => Assert.Equal(name, CounterSet.BucketName(bucket));

    [Fact]
    public void Stats_print_only_used_counters_in_lprocfs_stats_seq_show_shape_and_clear_restarts_them()
    {
        var stats = new CounterSet(TargetStats.OstCounters);
        stats.Add(TargetStats.OstWriteBytes, 4096);
        stats.Add(TargetStats.OstWriteBytes, 1048576);

        var lines = stats.WriteStats(DateTimeOffset.UtcNow).Split('\n');

        Assert.Matches(@"^snapshot_time {23}\d+\.\d{9} secs\.nsecs$", lines[0]);
        Assert.Matches(@"^start_time {26}\d+\.\d{9} secs\.nsecs$", lines[1]);
        Assert.Matches(@"^elapsed_time {24}\d+\.\d{9} secs\.nsecs$", lines[2]);
        Assert.Equal("write_bytes                         2 samples [bytes] 4096 1048576 1052672 1099528404992", lines[3]);
        Assert.Equal(4, lines.Length);

        stats.Clear();
        Assert.Equal(3, stats.WriteStats(DateTimeOffset.UtcNow).Split('\n').Length);
    }

    [Fact]
    public void Brw_stats_print_lustres_histogram_table()
    {
        var brw = new BrwStats();
        var io = brw.Begin();
        brw.End(io, write: true, 1 << 20);
        brw.Leave();

        var text = brw.Write(DateTimeOffset.UtcNow);

        Assert.Matches(@"^snapshot_time: {12}\d+\.\d{9} secs\.nsecs\n", text);
        Assert.Contains("\n                           read      |     write\npages per bulk r/w     rpcs  % cum % |  rpcs        % cum %\n", text, StringComparison.Ordinal);
        Assert.Contains("\n256:\t\t         0   0   0   |    1 100 100\n", text, StringComparison.Ordinal);
        Assert.Contains("disk I/O size          ios   % cum % |  ios         % cum %\n1M:\t\t         0   0   0   |    1 100 100", text, StringComparison.Ordinal);
        Assert.Equal(1, brw.Bucket("disk I/Os in flight", write: true, 1));
    }
}
