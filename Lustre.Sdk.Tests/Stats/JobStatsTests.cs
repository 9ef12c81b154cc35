using Lustre.Server.Stats;

namespace Lustre.Tests.Stats;

/// <summary>A target's job_stats on its own: counting, Lustre's YAML, clear, expiry and the bound on jobs.</summary>
public sealed class JobStatsTests
{
    [Fact]
    public void Each_job_counts_apart_and_prints_as_Lustres_YAML_that_parses()
    {
        var jobs = new JobStats(TargetStats.OstCounters);
        jobs.Add("dd.4854", TargetStats.OstWriteBytes, 4096);
        jobs.Add("dd.4854", TargetStats.OstWriteBytes, 1 << 20);
        jobs.Add("dd.4854", TargetStats.OstWrite, 120);
        jobs.Add("tar.0", TargetStats.OstReadBytes, 8192);
        jobs.Add(string.Empty, TargetStats.OstReadBytes, 8192); // no job: not counted

        var text = jobs.Write();
        var parsed = JobYaml.Parse(text);

        Assert.Equal(["dd.4854", "tar.0"], parsed.Keys);
        var write = parsed["dd.4854"]["write_bytes"];
        Assert.Equal(("2", "bytes", "4096", "1048576", "1052672"), (write["samples"], write["unit"], write["min"], write["max"], write["sum"]));
        Assert.Equal("0", parsed["dd.4854"]["read_bytes"]["samples"]);
        Assert.Equal("usecs", parsed["dd.4854"]["write"]["unit"]);
        Assert.Equal("8192", parsed["tar.0"]["read_bytes"]["sum"]);
        Assert.EndsWith(" secs.nsecs", parsed["tar.0"]["snapshot_time"]["value"], StringComparison.Ordinal);

        // Lustre's exact line shapes (lprocfs_jobstats_seq_show).
        Assert.StartsWith("job_stats:\n- job_id:          dd.4854\n  snapshot_time:   ", text, StringComparison.Ordinal);
        Assert.Contains("\n  write_bytes:     { samples:           2, unit: bytes, min:     4096, max:  1048576, sum:          1052672, sumsq:      1099528404992, hist: { 4K: 1, 1M: 1 } }\n", text, StringComparison.Ordinal);
        Assert.Contains("\n  read:            { samples:           0, unit: usecs, min:        0, max:        0, sum:                0, sumsq:                  0 }\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_counted_prints_nothing() => Assert.Equal(string.Empty, new JobStats(TargetStats.MdtCounters).Write());

    [Fact]
    public void Clear_drops_every_job_and_a_job_id_drops_that_one()
    {
        var jobs = new JobStats(TargetStats.MdtCounters);
        jobs.Add("a", TargetStats.MdtOpen, 1);
        jobs.Add("b", TargetStats.MdtOpen, 1);

        Assert.True(jobs.Remove("a"));
        Assert.Equal(["b"], JobYaml.Parse(jobs.Write()).Keys);
        jobs.Clear();
        Assert.Equal(0, jobs.Count);
    }

    [Fact]
    public void A_job_idle_past_the_cleanup_interval_is_dropped_and_zero_keeps_jobs()
    {
        var clock = new ManualClock();
        var jobs = new JobStats(TargetStats.OstCounters, clock) { CleanupInterval = TimeSpan.FromSeconds(60) };
        jobs.Add("idle", TargetStats.OstRead, 1);
        clock.Advance(TimeSpan.FromSeconds(45));
        jobs.Add("busy", TargetStats.OstRead, 1);

        // Lustre scans twice per interval, so a job may outlive the interval by up to half of it: never more.
        clock.Advance(TimeSpan.FromSeconds(45)); // idle: 90 s; busy: 45 s
        Assert.Equal(["busy"], JobYaml.Parse(jobs.Write()).Keys);

        jobs.CleanupInterval = TimeSpan.Zero;
        clock.Advance(TimeSpan.FromDays(30));
        Assert.Equal(["busy"], JobYaml.Parse(jobs.Write()).Keys);
    }

    [Fact]
    public void The_table_never_holds_more_than_its_bound_the_least_recently_active_job_makes_room()
    {
        var clock = new ManualClock();
        var jobs = new JobStats(TargetStats.OstCounters, clock);
        for (var i = 0; i < JobStats.MaxJobs; i++)
        {
            jobs.Add($"job-{i}", TargetStats.OstRead, 1);
            clock.Advance(TimeSpan.FromMilliseconds(1));
        }

        jobs.Add("job-0", TargetStats.OstRead, 1); // job-0 is active again: job-1 is now the idlest
        clock.Advance(TimeSpan.FromMilliseconds(1));
        for (var i = 0; i < 100; i++)
        {
            jobs.Add($"hostile-{i}", TargetStats.OstRead, 1);
        }

        Assert.Equal(JobStats.MaxJobs, jobs.Count);
        Assert.Equal(100, jobs.Evicted);
        Assert.NotNull(jobs.Find("job-0"));
        Assert.Null(jobs.Find("job-1"));
        Assert.NotNull(jobs.Find("hostile-99"));
    }

    [Fact]
    public void A_job_id_longer_than_Lustres_is_not_counted()
    {
        var jobs = new JobStats(TargetStats.OstCounters);
        jobs.Add(new string('x', 32), TargetStats.OstRead, 1);
        Assert.Equal(0, jobs.Count);
    }

    [Theory]
    [InlineData("dd.4854", "dd.4854")]
    [InlineData("user@host", "user@host")]
    [InlineData("@start", "\"@start\"")]
    [InlineData("a:b", "\"a:b\"")]
    [InlineData("two words", "\"two\\x20words\"")]
    [InlineData("new\nline", "\"new\\x0Aline\"")]
    public void Job_ids_are_quoted_and_escaped_as_Lustre_does_so_that_each_stays_one_YAML_scalar(string id, string printed)
    {
        Assert.Equal(printed, CounterSet.EscapeJobId(id));

        var jobs = new JobStats(TargetStats.OstCounters);
        jobs.Add(id, TargetStats.OstRead, 1);
        Assert.Single(JobYaml.Parse(jobs.Write()));
    }
}
