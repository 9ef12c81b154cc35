using System.Text;
using Lustre.Protocol;
using Lustre.Server.Mds;
using Lustre.Server.Rpc;

namespace Lustre.Tests.Mds;

/// <summary>
/// The MDT's records of client results on a real RocksDB: a resend of an applied change is answered from its record
/// (across a reopen), never run twice; records are bounded per client, and a resend older than what is kept is refused
/// rather than run; a clean disconnect or a long idle drops a client's records.
/// </summary>
public sealed class ReplyRecordsTests : IDisposable
{
    private readonly TempFolder _directory = new("lustre-replies-");
    private int _runs;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_resend_of_an_applied_change_gets_its_recorded_result_even_after_a_reopen()
    {
        var first = new ChangeOrigin("c1", 7);
        using (var store = new MdtStore(_directory.Path))
        {
            Assert.Equal("applied 1", await Change(store, first));
            Assert.Equal("applied 1", await Change(store, first));
        }

        using (var reopened = new MdtStore(_directory.Path))
        {
            Assert.Equal("applied 1", await Change(reopened, first));

            // Another client's request with the same xid is its own.
            Assert.Equal("applied 2", await Change(reopened, new ChangeOrigin("c2", 7)));
        }

        Assert.Equal(2, _runs);
    }

    [Fact]
    public async Task Records_are_bounded_per_client_and_a_resend_beyond_them_is_refused_not_run()
    {
        int runs;
        using (var store = new MdtStore(_directory.Path))
        {
            // All queued at once, in xid order, so that they share group commits.
            // The last of them takes the count to PerClient + DropBatch: the lowest DropBatch xids go, in one range.
            const int total = ReplyRecords.PerClient + ReplyRecords.DropBatch;
            await Task.WhenAll(Enumerable.Range(1, total).Select(xid => Change(store, new ChangeOrigin("busy", (ulong)xid))));

            runs = _runs;
            foreach (var dropped in new ulong[] { 1, ReplyRecords.DropBatch })
            {
                var refused = await Assert.ThrowsAsync<RpcStatusException>(() => Change(store, new ChangeOrigin("busy", dropped)));
                Assert.Equal(LustreErrno.EALREADY, refused.Errno);
            }

            Assert.Equal($"applied {ReplyRecords.DropBatch + 1}", await Change(store, new ChangeOrigin("busy", ReplyRecords.DropBatch + 1)));
            Assert.Equal($"applied {runs}", await Change(store, new ChangeOrigin("busy", total)));
            Assert.Equal(runs, _runs);
            Assert.Equal(ReplyRecords.PerClient, CountRecords(store));
        }

        // The floor survives a restart with the records that carry it.
        using var reopened = new MdtStore(_directory.Path);
        Assert.Equal(LustreErrno.EALREADY, (await Assert.ThrowsAsync<RpcStatusException>(() => Change(reopened, new ChangeOrigin("busy", 1)))).Errno);
        Assert.Equal(runs, _runs);
    }

    [Fact]
    public async Task A_clean_disconnect_and_a_long_idle_drop_a_clients_records()
    {
        using (var store = new MdtStore(_directory.Path))
        {
            await Change(store, new ChangeOrigin("leaving", 1));
            await Change(store, new ChangeOrigin("idle", 1));
            Assert.Equal(2, store.Replies.ClientCount);
            await store.ChangeAsync(tx =>
            {
                store.Replies.Forget(tx, "leaving");
                return true;
            });
            Assert.Equal(1, store.Replies.ClientCount);
            Assert.Equal(1, CountRecords(store));
        }

        await Task.Delay(20);
        using (var reopened = new MdtStore(_directory.Path, replyLifetime: TimeSpan.FromMilliseconds(10)))
        {
            Assert.Equal(0, reopened.Replies.ClientCount);
            Assert.Equal(0, CountRecords(reopened));

            // Nothing is known of it any more: a resend now runs (its client gave up resending long ago).
            Assert.Equal($"applied {_runs + 1}", await Change(reopened, new ChangeOrigin("idle", 1)));
        }
    }

    private Task<string> Change(MdtStore store, ChangeOrigin origin) =>
        store.ChangeAsync(origin, Text, tx =>
        {
            var run = Interlocked.Increment(ref _runs);
            tx.Put(Encoding.ASCII.GetBytes($"M/test-{run}"), [1]);
            return $"applied {run}";
        }).AsTask();

    private static readonly ChangeResult<string> Text = new((text, writer) => writer.WriteFixed(Encoding.UTF8.GetBytes(text)), Encoding.UTF8.GetString);

    private static int CountRecords(MdtStore store)
    {
        using var iterator = store.NewIterator();
        var count = 0;
        for (iterator.Seek([MdtKeys.Reply]); iterator.Valid() && iterator.Key()[0] == MdtKeys.Reply; iterator.Next())
        {
            count++;
        }

        return count;
    }
}
