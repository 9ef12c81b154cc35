using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>The MDS destroy queue keeps up with unlinks: one pass drains everything queued, not a fixed batch.</summary>
public sealed class DestroyQueueTests
{
    [Fact]
    public async Task One_pass_destroys_every_queued_object_even_when_more_than_a_batch_is_queued()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4 });
        await using var client = new LustreClient(cluster.Address);
        const int files = 300;
        var data = new byte[4 * 4096];
        await Parallel.ForAsync(0, files, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            await using var file = await client.OpenFileAsync($"/f{i}", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, 4), cancellationToken: ct);
            await file.WriteAtAsync(0, data, ct);
            for (var stripe = 1; stripe < 4; stripe++)
            {
                await file.WriteAtAsync(stripe * (64 << 10), data.AsMemory(0, 1), ct);
            }
        });
        await Parallel.ForAsync(0, files, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) => await client.DeleteFileAsync($"/f{i}", ct));

        // (The MDS's own background pass may run meanwhile and take a share; either way nothing is left after this one.)
        await cluster.Node.Destroys!.RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, (await client.GetUsageAsync()).Where(u => !u.IsMetadataTarget).Sum(u => u.Objects));
    }

    [Fact]
    public async Task Batches_read_on_from_the_last_one_so_a_drain_sees_each_queued_object_once_in_key_order()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"lustre-destroys-{Guid.NewGuid():n}");
        try
        {
            using var store = new MdtStore(directory);
            var ns = new MdtNamespace(store, placement: null!);
            var queued = Enumerable.Range(0, 2_000).Select(i => (OstIndex: i % 4, ObjectId: (ulong)(2 * i) + 2)).ToList();
            await store.ChangeAsync(tx =>
            {
                Span<byte> key = stackalloc byte[MdtKeys.DestroyKeyLength];
                foreach (var (ost, id) in queued)
                {
                    MdtKeys.WriteDestroyKey(key, ost, id);
                    tx.Put(key, []);
                }

                return true;
            });

            // Nothing is forgotten between batches: only the cursor moves them on.
            var seen = new List<(int, ulong)>();
            (int, ulong)? after = null;
            for (var batch = 0; batch < 10; batch++)
            {
                var pending = ns.PendingDestroys(300, after);
                if (pending.Count == 0)
                {
                    break;
                }

                seen.AddRange(pending);
                after = pending[^1];
            }

            Assert.Equal(queued.OrderBy(q => q.OstIndex).ThenBy(q => q.ObjectId).Select(q => (q.OstIndex, q.ObjectId)), seen);

            // A cursor that is not itself queued (an odd id here; OST 1 holds 4, 12, 20, ...) starts at the next entry.
            Assert.Equal((1, 12UL), ns.PendingDestroys(1, (1, 5))[0]);
            Assert.Equal((0, 2UL), ns.PendingDestroys(1)[0]);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
