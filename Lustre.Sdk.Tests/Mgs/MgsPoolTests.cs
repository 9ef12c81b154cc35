using System.Text.Json.Nodes;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Mgs;
using Lustre.Server.Rpc;

namespace Lustre.Tests.Mgs;

/// <summary>The MGS's OST pools: Lustre's refusals, and their place in the configuration file.</summary>
public sealed class MgsPoolTests : IDisposable
{
    private readonly TempFolder _folder = new("lustre-mgs-pools-");

    public void Dispose() => _folder.Dispose();

    private MgsConfigStore Open() => new(_folder.Path, "lustre", 4 << 20, 1);

    private static MgsConfigStore WithOsts(MgsConfigStore store, int count)
    {
        for (var i = 0; i < count; i++)
        {
            store.Register(new TargetRecord(TargetKind.Ost, i, $"127.0.0.1:{9000 + i}", true));
        }

        return store;
    }

    private static RpcStatusException Refused(MgsConfigStore store, PoolOperation operation, string pool, int ost = -1) =>
        Assert.Throws<RpcStatusException>(() => store.ChangePool(new PoolRequest(operation, pool, ost)));

    [Fact]
    public void The_configuration_snapshot_is_shared_until_a_change_and_then_shows_it()
    {
        var store = WithOsts(Open(), 2);
        var first = store.Snapshot();
        Assert.Same(first, store.Snapshot());

        store.ChangePool(new PoolRequest(PoolOperation.New, "flash", -1));
        var pooled = store.Snapshot();
        Assert.NotSame(first, pooled);
        Assert.Equal("flash", Assert.Single(pooled.Pools).Name);

        Assert.True(store.SetActive(TargetKind.Ost, 1, false));
        Assert.False(store.Snapshot().Targets.Single(t => t.Kind == TargetKind.Ost && t.Index == 1).Active);

        store.Register(new TargetRecord(TargetKind.Ost, 2, "127.0.0.1:9002", true));
        Assert.Equal(3, store.Snapshot().Targets.Count(t => t.Kind == TargetKind.Ost));

        // Re-registering at the same address changes nothing: the snapshot stays.
        var settled = store.Snapshot();
        store.Register(new TargetRecord(TargetKind.Ost, 2, "127.0.0.1:9002", true));
        Assert.Same(settled, store.Snapshot());
    }

    [Fact]
    public void Pool_changes_are_refused_as_Lustre_refuses_them()
    {
        var store = WithOsts(Open(), 3);
        store.ChangePool(new PoolRequest(PoolOperation.New, "flash", -1));
        store.ChangePool(new PoolRequest(PoolOperation.Add, "flash", 1));

        Assert.Equal((LustreErrno.EEXIST, "pool lustre.flash already exists"), Describe(Refused(store, PoolOperation.New, "flash")));
        Assert.Equal((LustreErrno.ENOENT, "pool lustre.nope not found"), Describe(Refused(store, PoolOperation.Add, "nope", 1)));
        Assert.Equal((LustreErrno.ENOENT, "lustre-OST0009 is not part of the 'lustre' fs"), Describe(Refused(store, PoolOperation.Add, "flash", 9)));
        Assert.Equal((LustreErrno.EEXIST, "lustre-OST0001 is already in pool lustre.flash"), Describe(Refused(store, PoolOperation.Add, "flash", 1)));
        Assert.Equal((LustreErrno.ENOENT, "lustre-OST0002 not found in pool lustre.flash"), Describe(Refused(store, PoolOperation.Remove, "flash", 2)));
        Assert.Equal((LustreErrno.ENOTEMPTY, "pool lustre.flash not empty, please remove all members (1 OSTs)"), Describe(Refused(store, PoolOperation.Destroy, "flash")));
        Assert.Equal(LustreErrno.EINVAL, Refused(store, PoolOperation.New, "inherit").Errno);
        Assert.Equal(LustreErrno.EINVAL, Refused(store, PoolOperation.New, "sixteen_chars_xx").Errno);

        // Nothing refused changed anything.
        Assert.Equal([new OstPoolRecord("flash", [1])], store.Snapshot().Pools, new PoolComparer());

        store.ChangePool(new PoolRequest(PoolOperation.Remove, "flash", 1));
        store.ChangePool(new PoolRequest(PoolOperation.Destroy, "flash", -1));
        Assert.Empty(store.Snapshot().Pools);
        Assert.Equal(LustreErrno.ENOENT, Refused(store, PoolOperation.Destroy, "flash").Errno);
    }

    [Fact]
    public void Pools_are_kept_in_name_order_with_their_OSTs_ascending_and_survive_a_restart()
    {
        var store = WithOsts(Open(), 4);
        var generation = store.Snapshot().Generation;
        store.ChangePool(new PoolRequest(PoolOperation.New, "zeta", -1));
        store.ChangePool(new PoolRequest(PoolOperation.New, "alpha", -1));
        foreach (var ost in new[] { 3, 0, 2 })
        {
            store.ChangePool(new PoolRequest(PoolOperation.Add, "zeta", ost));
        }

        Assert.Equal(generation + 5, store.Snapshot().Generation);

        var reopened = Open().Snapshot();
        Assert.Equal([new OstPoolRecord("alpha", []), new OstPoolRecord("zeta", [0, 2, 3])], reopened.Pools, new PoolComparer());
        Assert.Equal(generation + 5, reopened.Generation);
    }

    [Fact]
    public void A_configuration_file_from_before_pools_loads_with_none()
    {
        WithOsts(Open(), 1);
        var file = Path.Combine(_folder.Path, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        Assert.True(json.Remove("Pools"));
        File.WriteAllText(file, json.ToJsonString());

        var store = Open();

        Assert.Empty(store.Snapshot().Pools);
        store.ChangePool(new PoolRequest(PoolOperation.New, "later", -1));
        Assert.Equal("later", Assert.Single(Open().Snapshot().Pools).Name);
    }

    private static (LustreErrno, string) Describe(RpcStatusException error) => (error.Errno, error.Message);

    private sealed class PoolComparer : IEqualityComparer<OstPoolRecord>
    {
        public bool Equals(OstPoolRecord? x, OstPoolRecord? y) => x!.Name == y!.Name && x.Osts.SequenceEqual(y.Osts);

        public int GetHashCode(OstPoolRecord obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
