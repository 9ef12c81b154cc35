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

    /// <summary>The names a plan's request asks for, as the MDS reads them.</summary>
    private static GetAttrBatchRequest Request(StatAhead.Plan plan)
    {
        using var frame = FrameBuffer.Rent();
        GetAttrBatchRequest.WriteNumbered(frame.Body, plan.Prefix, plan.Number, plan.Count, plan.Width);
        var reader = new BodyReader(frame.Written[FrameHeader.Size..].Span);
        var request = GetAttrBatchRequest.Read(ref reader);
        Assert.Equal(0, reader.Remaining);
        return request;
    }

    /// <summary>A statahead whose stats of /d/f.0 and /d/f.1 made the stat of /d/f.2 plan a batch.</summary>
    private static (StatAhead StatAhead, StatAhead.Plan Plan) Planned()
    {
        var statAhead = new StatAhead(1024);
        Assert.Null(statAhead.PlanFor("/d/f.0"));
        Assert.Null(statAhead.PlanFor("/d/f.1"));
        return (statAhead, statAhead.PlanFor("/d/f.2")!);
    }

    private static InodeAttributes?[] Answers(StatAhead.Plan plan, Func<int, InodeAttributes?>? answer = null) =>
        Enumerable.Range(0, plan.Count).Select(i => answer is null ? Attributes() : answer(i)).ToArray();

    [Fact]
    public void The_third_stat_of_names_that_count_up_plans_the_next_names_keeping_zero_padding()
    {
        var statAhead = new StatAhead(1024);

        Assert.Null(statAhead.PlanFor("/d/img0098"));
        Assert.Null(statAhead.PlanFor("/d/img0099"));
        var plan = statAhead.PlanFor("/d/img0100");

        Assert.NotNull(plan);
        var request = Request(plan);
        Assert.True(request.Lease);
        Assert.Equal(OpenFlags.None, request.Flags);
        Assert.Equal(StatAhead.InitialWindow, request.Paths.Count);
        Assert.Equal("/d/img0100", request.Paths[0]);
        Assert.Equal("/d/img0101", request.Paths[1]);
        Assert.Equal("/d/img0131", request.Paths[^1]);

        // Unpadded, the names grow a digit.
        statAhead.PlanFor("/d/f.98");
        statAhead.PlanFor("/d/f.99");
        Assert.Equal(["/d/f.100", "/d/f.101"], Request(statAhead.PlanFor("/d/f.100")!).Paths.Take(2));
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
        Assert.Equal("/d/x.4", Request(statAhead.PlanFor("/d/x.3")!).Paths[1]);
        Assert.Equal("/d/y.4", Request(statAhead.PlanFor("/d/y.3")!).Paths[1]);
    }

    [Fact]
    public void A_leased_batch_answers_each_later_name_once_and_never_the_first_nor_a_file_open_for_write()
    {
        var (statAhead, plan) = Planned();
        var answers = Answers(plan, i => i == 5 ? Attributes(InodeFlags.OpenForWrite) : i == 6 ? null : Attributes());

        statAhead.Complete(plan, answers, null, TimeSpan.FromSeconds(10), 1, System.Diagnostics.Stopwatch.GetTimestamp());

        Assert.False(statAhead.TryTake("/d/f.2", out _, out _, out _));
        Assert.True(statAhead.TryTake("/d/f.3", out var attributes, out _, out _));
        Assert.Equal(Fid, attributes.Fid);
        Assert.False(statAhead.TryTake("/d/f.3", out _, out _, out _));
        Assert.False(statAhead.TryTake("/d/f.7", out _, out _, out _));
        Assert.False(statAhead.TryTake("/d/f.8", out _, out _, out _));
        Assert.True(statAhead.TryTake("/d/f.9", out _, out _, out _));
        Assert.False(statAhead.TryTake("/d/f.010", out _, out _, out _));
        Assert.Equal(2, statAhead.Hits);
        Assert.Equal(StatAhead.InitialWindow - 5, statAhead.Count);

        // The stat after the window goes on the stream with a window twice as large.
        Assert.Equal(2 * StatAhead.InitialWindow, statAhead.PlanFor("/d/f.34")!.Count);
    }

    [Fact]
    public void A_lease_is_handed_back_when_its_last_answer_is_used_or_its_answers_are_replaced_or_there_are_none()
    {
        var (statAhead, plan) = Planned();
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        Assert.Equal(0UL, statAhead.Complete(plan, Answers(plan, i => i <= 2 ? Attributes() : null), null, TimeSpan.FromSeconds(10), 7, now));

        Assert.True(statAhead.TryTake("/d/f.3", out _, out _, out var release));
        Assert.Equal(0UL, release);
        Assert.True(statAhead.TryTake("/d/f.4", out _, out _, out release));
        Assert.Equal(7UL, release);

        // A batch replacing one with answers left hands back the old lease; one with no answers, its own.
        var next = statAhead.PlanFor("/d/f.34")!;
        Assert.Equal(0UL, statAhead.Complete(next, Answers(next), null, TimeSpan.FromSeconds(10), 8, now));
        var third = statAhead.PlanFor("/d/f.98")!;
        Assert.Equal(8UL, statAhead.Complete(third, Answers(third), null, TimeSpan.FromSeconds(10), 9, now));
        var empty = statAhead.PlanFor("/d/f.226")!;
        Assert.Equal(10UL, statAhead.Complete(empty, Answers(empty, _ => null), null, TimeSpan.FromSeconds(10), 10, now));
        Assert.True(statAhead.TryTake("/d/f.99", out _, out _, out _));
    }

    [Fact]
    public void Answers_whose_lease_has_ended_or_that_got_none_are_not_used()
    {
        var (statAhead, plan) = Planned();

        // Sent a lease ago: over.
        var sent = System.Diagnostics.Stopwatch.GetTimestamp() - System.Diagnostics.Stopwatch.Frequency;
        statAhead.Complete(plan, Answers(plan), null, TimeSpan.FromSeconds(1), 1, sent);
        Assert.True(statAhead.Count > 0);
        Assert.False(statAhead.TryTake("/d/f.3", out _, out _, out _));

        // The miss let go of the answers (a batch of opens holds files' bytes).
        Assert.Equal(0, statAhead.Count);

        // Refused: nothing kept, and the stream waits two stats before it plans again.
        var next = statAhead.PlanFor("/d/f.34")!;
        statAhead.Complete(next, Answers(next), null, TimeSpan.Zero, 1, System.Diagnostics.Stopwatch.GetTimestamp());
        Assert.False(statAhead.TryTake("/d/f.35", out _, out _, out _));
        Assert.Equal(1, statAhead.Refused);
        Assert.Null(statAhead.PlanFor("/d/f.35"));
        Assert.Null(statAhead.PlanFor("/d/f.36"));
        Assert.NotNull(statAhead.PlanFor("/d/f.37"));
    }

    [Fact]
    public void An_absurd_lease_from_the_wire_is_cut_to_the_limit()
    {
        var (statAhead, plan) = Planned();
        var sent = System.Diagnostics.Stopwatch.GetTimestamp() - (11 * System.Diagnostics.Stopwatch.Frequency);

        statAhead.Complete(plan, Answers(plan), null, TimeSpan.FromHours(1), 1, sent);

        Assert.False(statAhead.TryTake("/d/f.3", out _, out _, out _));
    }
}
