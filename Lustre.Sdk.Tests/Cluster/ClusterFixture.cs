using Lustre.Client;
using Lustre.Protocol;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using Lustre.Layouts;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Cluster;

/// <summary>
/// One embedded cluster (MGS + MDT + 4 OSTs on loopback, port 0, data in a temp folder) and one client, shared by
/// every end-to-end test class of the <see cref="ClusterCollection"/>. Tests keep out of each other's way by
/// working in their own directory (<see cref="NewDirectoryAsync"/>).
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const int OstCount = 4;

    private LustreCluster? _cluster;
    private LustreClient? _client;

    internal LustreCluster Cluster => _cluster ?? throw new InvalidOperationException("The cluster is not started.");

    public LustreClient Client => _client ?? throw new InvalidOperationException("The cluster is not started.");

    public string Address => Cluster.Address;

    /// <summary>A new client of this cluster whose OST 2 answers every write with <paramref name="failure"/>; every other call, and the other OSTs, are real.</summary>
    public LustreClient ClientWithFaultyOst2(Exception failure)
    {
        var client = new LustreClient(Address);
        var faulty = new System.Collections.Concurrent.ConcurrentDictionary<IRpcConnection, IRpcConnection>();
        client.Session.Targets.OstConnectionOverride = (index, real) => index != 2 ? real : faulty.GetOrAdd(real, r =>
        {
            var connection = Substitute.For<IRpcConnection>();
            connection.IsHealthy.Returns(true);
            connection.CallAsync(Opcode.OstWrite, Arg.Any<FrameBuffer>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReplyBulk>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>())
                .Throws(failure);
            connection.CallAsync(Arg.Is<Opcode>(o => o != Opcode.OstWrite), Arg.Any<FrameBuffer>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReplyBulk>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>())
                .Returns(call => r.CallAsync(call.ArgAt<Opcode>(0), call.ArgAt<FrameBuffer>(1), call.ArgAt<ReadOnlyMemory<byte>>(2), call.ArgAt<ReplyBulk>(3), call.ArgAt<ulong>(4), call.ArgAt<bool>(5), call.ArgAt<CancellationToken>(6)));
            return connection;
        });
        return client;
    }

    public string DataDirectory => Cluster.DataDirectory;

    public async Task InitializeAsync()
    {
        _cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = OstCount });
        _client = new LustreClient(_cluster.Address);
    }

    public async Task DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (_cluster is not null)
        {
            var data = _cluster.DataDirectory;
            await _cluster.DisposeAsync();
            Assert.False(Directory.Exists(data), $"the cluster left its data folder {data} behind");
        }
    }

    /// <summary>Creates a fresh directory <c>/t-&lt;guid&gt;</c> for one test and returns its path.</summary>
    public async Task<string> NewDirectoryAsync()
    {
        var path = "/t-" + Guid.NewGuid().ToString("N");
        await Client.CreateDirectoryAsync(path);
        return path;
    }

    /// <summary>Where an OST keeps the file of one object: <c>&lt;data&gt;/ostNNNN/objects/&lt;id &amp; 0xff&gt;/&lt;id&gt;</c>.</summary>
    public string ObjectPath(OstObject obj) =>
        Path.Combine(DataDirectory, $"ost{obj.OstIndex:X4}", "objects", (obj.ObjectId & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture), obj.ObjectId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>How many chunks of Data-on-MDT bytes the MDT holds for <paramref name="fid"/> (<see cref="Server.Mds.DataOnMdt"/>).</summary>
    internal int DataOnMdtChunks(LustreFid fid)
    {
        var prefix = Server.Mds.MdtKeys.DataKey(fid, 0).AsSpan(0, 17).ToArray();
        using var iterator = Cluster.Node.Mdt!.NewIterator();
        var count = 0;
        for (iterator.Seek(prefix); iterator.Valid() && iterator.Key().AsSpan().StartsWith(prefix); iterator.Next())
        {
            count++;
        }

        return count;
    }

    /// <summary>
    /// Runs the MDS destroy queue until none of <paramref name="objects"/> is left on disk, or fails after
    /// <paramref name="timeout"/>. Each pass destroys what is queued, so this returns after one or two passes.
    /// </summary>
    public async Task DestroyAndWaitAsync(IReadOnlyCollection<OstObject> objects, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (objects.Any(o => File.Exists(ObjectPath(o))))
        {
            cts.Token.ThrowIfCancellationRequested();
            await Cluster.Node.Destroys!.RunOnceAsync(cts.Token);
        }
    }

    /// <summary>A bare RPC client to the MDS, one attempt a call: no client-side path checks, page sizes of the test's choosing.</summary>
    internal Rpc.ServerCaller RawMdsClient() => new(
        Cluster.Endpoint,
        new RpcConnectionSettings("raw-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance),
        maxAttempts: 1);

    /// <summary>Proves the cluster still serves: a brand-new client creates, writes, flushes and reads back a file.</summary>
    public async Task AssertStillServesAsync()
    {
        await using var client = new LustreClient(Address);
        var path = "/alive-" + Guid.NewGuid().ToString("N");
        var data = new byte[100_000];
        Random.Shared.NextBytes(data);
        await using (var file = await client.OpenFileAsync(path, FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, data);
            await file.FlushAsync();
        }

        await using (var file = await client.OpenFileAsync(path))
        {
            var back = new byte[data.Length];
            Assert.Equal(data.Length, await file.ReadAtAsync(0, back));
            Assert.Equal(data, back);
        }

        await client.DeleteFileAsync(path);
    }
}

/// <summary>The end-to-end test classes that share one <see cref="ClusterFixture"/>; they run one after the other.</summary>
[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "Cluster";
}
