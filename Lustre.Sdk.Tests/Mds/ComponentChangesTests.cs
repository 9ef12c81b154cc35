using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Mds;
using Lustre.Server.Rpc;

namespace Lustre.Tests.Mds;

/// <summary>What <c>lfs setstripe --component-add/--component-del</c> and a write's instantiation do to a layout, and what they refuse.</summary>
public sealed class ComponentChangesTests
{
    private const long M = 1 << 20;
    private static readonly FileLayout Filesystem = FileLayout.Raid0(4 * M, 1);

    /// <summary>[0, 1M) instantiated, [1M, 64M) not: a PFL file written only in its first component, ending at 64M.</summary>
    private static FileLayout Written() => FileLayout.Composite(
    [
        new LayoutComponent(0, M, M, 1).WithObjects([new OstObject(0, 1)]),
        new LayoutComponent(M, 64 * M, M, 2),
    ]);

    private static FileLayout Added(params LayoutComponent[] components) => FileLayout.Composite(components);

    [Fact]
    public void Add_appends_after_the_last_component_filling_in_unset_values_from_the_filesystem_default()
    {
        var layout = ComponentChanges.Add(Written(), 64 * M, Added(new LayoutComponent(0, 64 * M, 0, 4), new LayoutComponent(64 * M, LayoutComponent.Eof, 2 * M, 0)), Filesystem);

        Assert.Equal(
            [(0L, M, M, 1), (M, 64 * M, M, 2), (64 * M, 128 * M, 4 * M, 4), (128 * M, LayoutComponent.Eof, 2 * M, 1)],
            layout.Components.Select(c => (c.Start, c.End, c.StripeSize, c.StripeCount)));
        Assert.Equal([true, false, false, false], layout.Components.Select(c => c.IsInstantiated));
    }

    [Theory]
    [InlineData(32L << 20, "must start there")]
    [InlineData(128L << 20, "must start there")]
    public void Add_refuses_components_that_do_not_start_where_the_file_ends(long start, string reason)
    {
        var ex = Assert.Throws<RpcStatusException>(() => ComponentChanges.Add(Written(), start, Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1)), Filesystem));

        Assert.Equal(LustreErrno.EINVAL, ex.Errno);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_refuses_a_file_whose_last_component_reaches_eof_a_plain_file_and_a_mirrored_one()
    {
        var toEof = ComponentChanges.Add(Written(), 64 * M, Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1)), Filesystem);
        var component = Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1));

        var full = Assert.Throws<RpcStatusException>(() => ComponentChanges.Add(toEof, LayoutComponent.Eof, component, Filesystem));
        var plain = Assert.Throws<RpcStatusException>(() => ComponentChanges.Add(FileLayout.Raid0(M, 1), 0, component, Filesystem));
        var mirrored = Assert.Throws<RpcStatusException>(() => ComponentChanges.Add(FileLayout.Mirrored(2, FileLayout.Raid0(M, 1)), 0, component, Filesystem));

        Assert.Equal((LustreErrno.EINVAL, LustreErrno.EINVAL, LustreErrno.EBUSY), (full.Errno, plain.Errno, mirrored.Errno));
        Assert.Contains("already extends to EOF", full.Message, StringComparison.Ordinal);
        Assert.Contains("not a composite (PFL) file", plain.Message, StringComparison.Ordinal);
        Assert.Contains("mirrored", mirrored.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_refuses_components_with_objects()
    {
        var ex = Assert.Throws<RpcStatusException>(() => ComponentChanges.Add(Written(), 64 * M, Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1).WithObjects([new OstObject(1, 9)])), Filesystem));

        Assert.Contains("without OST objects", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Add_refuses_a_data_on_mdt_component_and_delete_keeps_one()
    {
        var domOnly = FileLayout.Composite([LayoutComponent.DataOnMdt(64 * 1024, 0)]);

        var added = Assert.Throws<RpcStatusException>(() => ComponentChanges.Add(Written(), 64 * M, Added(LayoutComponent.DataOnMdt(64 * 1024)), Filesystem));
        var deleted = Assert.Throws<RpcStatusException>(() => ComponentChanges.Delete(domOnly, 1, ComponentSelection.ById));

        Assert.Equal((LustreErrno.EINVAL, LustreErrno.EINVAL), (added.Errno, deleted.Errno));
        Assert.Contains("Data-on-MDT", added.Message, StringComparison.Ordinal);
        Assert.Equal(2, ComponentChanges.Add(domOnly, 64 * 1024, Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1)), Filesystem).Components.Count);
    }

    [Fact]
    public void Delete_by_id_removes_the_last_component_when_it_has_no_objects()
    {
        var layout = ComponentChanges.Delete(Written(), 2, ComponentSelection.ById);

        var only = Assert.Single(layout.Components);
        Assert.Equal((0L, M), (only.Start, only.End));
        Assert.True(layout.IsComposite);
    }

    [Fact]
    public void Delete_by_flags_removes_every_component_without_objects()
    {
        var three = ComponentChanges.Add(Written(), 64 * M, Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1)), Filesystem);

        var layout = ComponentChanges.Delete(three, 0, ComponentSelection.Uninstantiated);

        Assert.Equal(M, layout.End);
        Assert.Single(layout.Components);
    }

    [Fact]
    public void Delete_refuses_a_hole_a_component_with_objects_a_missing_id_and_a_plain_file()
    {
        var three = ComponentChanges.Add(Written(), 64 * M, Added(new LayoutComponent(0, LayoutComponent.Eof, M, 1)), Filesystem);

        var hole = Assert.Throws<RpcStatusException>(() => ComponentChanges.Delete(three, 2, ComponentSelection.ById));
        var full = Written().WithComponents([Written().Components[0], Written().Components[1].WithObjects([new OstObject(1, 2), new OstObject(2, 3)])]);
        var written = Assert.Throws<RpcStatusException>(() => ComponentChanges.Delete(full, 2, ComponentSelection.ById));
        var initialized = Assert.Throws<RpcStatusException>(() => ComponentChanges.Delete(Written(), 0, ComponentSelection.Instantiated));
        var missing = Assert.Throws<RpcStatusException>(() => ComponentChanges.Delete(Written(), 7, ComponentSelection.ById));
        var plain = Assert.Throws<RpcStatusException>(() => ComponentChanges.Delete(FileLayout.Raid0(), 1, ComponentSelection.ById));

        Assert.All([hole, written, initialized, missing, plain], ex => Assert.Equal(LustreErrno.EINVAL, ex.Errno));
        Assert.Contains("would leave a hole", hole.Message, StringComparison.Ordinal);
        Assert.Contains("has objects", written.Message, StringComparison.Ordinal);
        Assert.Contains("would leave a hole", initialized.Message, StringComparison.Ordinal);
        Assert.Contains("no component 7", missing.Message, StringComparison.Ordinal);
        Assert.Contains("not a composite", plain.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Instantiate_asks_placement_only_when_the_write_reaches_past_the_instantiated_components()
    {
        var placement = new RecordingPlacement();
        var layout = Written();

        Assert.Same(layout, ComponentChanges.Instantiate(layout, M, placement, null!));
        Assert.Empty(placement.Ends);
        Assert.Equal(9u, ComponentChanges.Instantiate(layout, 2 * M, placement, null!).Generation);
        Assert.Equal([2 * M], placement.Ends);
    }

    [Fact]
    public void Instantiate_past_the_end_of_the_layout_is_ENODATA()
    {
        var placement = new RecordingPlacement();

        var ex = Assert.Throws<RpcStatusException>(() => ComponentChanges.Instantiate(Written(), (64 * M) + 1, placement, null!));

        Assert.Equal(LustreErrno.ENODATA, ex.Errno);
        Assert.Contains("--component-add", ex.Message, StringComparison.Ordinal);
        Assert.Empty(placement.Ends);
    }

    /// <summary>Records the ends it is asked to instantiate below and answers the layout with generation 9.</summary>
    private sealed class RecordingPlacement : IOstPlacement
    {
        public List<long> Ends { get; } = [];

        public IReadOnlyList<OstUsage> Usage => [];

        public FileLayout FilesystemDefault() => Filesystem;

        public FileLayout Instantiate(FileLayout template, MdtTransaction transaction) => throw new NotSupportedException();

        public FileLayout InstantiateBelow(FileLayout layout, long end, MdtTransaction transaction)
        {
            Ends.Add(end);
            return layout.WithGeneration(9);
        }

        public FileLayout AddMirrors(FileLayout layout, FileLayout template, MdtTransaction transaction) => throw new NotSupportedException();

        public string? CheckPools(FileLayout layout) => null;

        public ValueTask RefreshAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
