using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Namespace;

/// <summary>
/// The client's statahead on its own: which stats plan a batch, which names it asks for, what it keeps and for how long.
/// </summary>
public sealed class StatAheadPlanTests
{
    private static readonly LustreFid Fid = new(0x200000400, 1, 0);

    private static InodeAttributes Attributes(InodeFlags flags = InodeFlags.None) =>
        new(Fid, EntryType.File, 0x81A4, 0, 0, 0, 1, 0, 0, 0, [], flags);

    [Fact]
    public void The_third_stat_of_names_that_count_up_plans_the_next_names_keeping_zero_padding()
    {
        var statAhead = new StatAhead(1024);

        Assert.Null(statAhead.PlanFor("/d/img0098"));
        Assert.Null(statAhead.PlanFor("/d/img0099"));
        var plan = statAhead.PlanFor("/d/img0100");

        Assert.NotNull(plan);
        Assert.Equal(StatAhead.InitialWindow, plan.Paths.Length);
        Assert.Equal("/d/img0100", plan.Paths[0]);
        Assert.Equal("/d/img0101", plan.Paths[1]);
        Assert.Equal("/d/img0131", plan.Paths[^1]);
    }

    [Fact]
    public void Names_without_a_trailing_number_or_that_do_not_follow_plan_nothing()
    {
        var statAhead = new StatAhead(1024);
        foreach (var path in new[] { "/d/a", "/d/b", "/d/c", "/d/img_1.jpg", "/d/img_2.jpg", "/d/img_3.jpg", "/d/f1", "/d/f3", "/d/f5", "/d/f1234567890", "/d/f1234567891", "/d/f1234567892" })
        {
            Assert.Null(statAhead.PlanFor(path));
        }

        // Two streams of one directory, interleaved, each followed on its own.
        Assert.Null(statAhead.PlanFor("/d/x.1"));
        Assert.Null(statAhead.PlanFor("/d/y.1"));
        Assert.Null(statAhead.PlanFor("/d/x.2"));
        Assert.Null(statAhead.PlanFor("/d/y.2"));
        Assert.Equal("/d/x.4", statAhead.PlanFor("/d/x.3")!.Paths[1]);
        Assert.Equal("/d/y.4", statAhead.PlanFor("/d/y.3")!.Paths[1]);
    }

    [Fact]
    public void A_leased_batch_answers_each_later_name_once_and_never_the_first_nor_a_file_open_for_write()
    {
        var statAhead = new StatAhead(1024);
        statAhead.PlanFor("/d/f.0");
        statAhead.PlanFor("/d/f.1");
        var plan = statAhead.PlanFor("/d/f.2")!;
        var results = plan.Paths.Select((p, i) => i == 5 ? GetAttrResult.Ok(Attributes(InodeFlags.OpenForWrite)) : i == 6 ? GetAttrResult.Failed(LustreErrno.ENOENT, "gone") : GetAttrResult.Ok(Attributes())).ToList();

        statAhead.Complete(plan, results, TimeSpan.FromSeconds(10), System.Diagnostics.Stopwatch.GetTimestamp());

        Assert.False(statAhead.TryTake("/d/f.2", out _));
        Assert.True(statAhead.TryTake("/d/f.3", out var attributes));
        Assert.Equal(Fid, attributes.Fid);
        Assert.False(statAhead.TryTake("/d/f.3", out _));
        Assert.False(statAhead.TryTake("/d/f.7", out _));
        Assert.False(statAhead.TryTake("/d/f.8", out _));
        Assert.True(statAhead.TryTake("/d/f.9", out _));
        Assert.Equal(2, statAhead.Hits);

        // The stat after the window goes on the stream with a window twice as large.
        Assert.Equal(2 * StatAhead.InitialWindow, statAhead.PlanFor("/d/f.34")!.Paths.Length);
    }

    [Fact]
    public void Answers_whose_lease_has_ended_or_that_got_none_are_not_used()
    {
        var statAhead = new StatAhead(1024);
        statAhead.PlanFor("/d/f.0");
        statAhead.PlanFor("/d/f.1");
        var plan = statAhead.PlanFor("/d/f.2")!;
        var results = plan.Paths.Select(_ => GetAttrResult.Ok(Attributes())).ToList();

        // Sent a lease ago: over.
        var sent = System.Diagnostics.Stopwatch.GetTimestamp() - System.Diagnostics.Stopwatch.Frequency;
        statAhead.Complete(plan, results, TimeSpan.FromSeconds(1), sent);
        Assert.False(statAhead.TryTake("/d/f.3", out _));

        // Refused: nothing kept, and the stream waits two stats before it plans again.
        var next = statAhead.PlanFor("/d/f.34")!;
        statAhead.Complete(next, results, TimeSpan.Zero, System.Diagnostics.Stopwatch.GetTimestamp());
        Assert.False(statAhead.TryTake("/d/f.35", out _));
        Assert.Equal(1, statAhead.Refused);
        Assert.Null(statAhead.PlanFor("/d/f.35"));
        Assert.Null(statAhead.PlanFor("/d/f.36"));
        Assert.NotNull(statAhead.PlanFor("/d/f.37"));
    }

    [Fact]
    public void An_absurd_lease_from_the_wire_is_cut_to_the_limit()
    {
        var statAhead = new StatAhead(1024);
        statAhead.PlanFor("/d/f.0");
        statAhead.PlanFor("/d/f.1");
        var plan = statAhead.PlanFor("/d/f.2")!;
        var sent = System.Diagnostics.Stopwatch.GetTimestamp() - (11 * System.Diagnostics.Stopwatch.Frequency);

        statAhead.Complete(plan, plan.Paths.Select(_ => GetAttrResult.Ok(Attributes())).ToList(), TimeSpan.FromHours(1), sent);

        Assert.False(statAhead.TryTake("/d/f.3", out _));
    }
}
