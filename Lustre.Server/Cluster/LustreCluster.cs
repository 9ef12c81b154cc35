using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Server.Cluster;

/// <summary>
/// An all-in-one cluster in this process: MGS, MDS and N OSTs behind one loopback listener, with real RocksDB
/// and real object files in a data folder. For tests, samples and notebooks; <c>lustre up</c> runs the same thing.
/// </summary>
public sealed class LustreCluster : IAsyncDisposable
{
    private readonly LustreNode _node;
    private readonly bool _deleteData;

    private LustreCluster(LustreNode node, string dataDirectory, bool deleteData)
    {
        _node = node;
        DataDirectory = dataDirectory;
        _deleteData = deleteData;
    }

    /// <summary>The address clients connect to: <c>127.0.0.1:PORT/fsname</c>.</summary>
    public string Address => $"{Endpoint}/{_node.FsName}";

    /// <summary>The listener's endpoint.</summary>
    public IPEndPoint Endpoint => _node.Endpoint;

    /// <summary>The folder holding the MGS config, the MDT and the OSTs.</summary>
    public string DataDirectory { get; }

    internal LustreNode Node => _node;

    /// <summary>Starts a cluster; on restart with the same <see cref="LustreClusterOptions.DataDirectory"/> all its data is back.</summary>
    public static async Task<LustreCluster> StartAsync(LustreClusterOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new LustreClusterOptions();
        options.Validate();
        var created = options.DataDirectory is null;
        var dataDirectory = options.DataDirectory ?? Path.Combine(Path.GetTempPath(), "lustre-" + Guid.NewGuid().ToString("N")[..12]);
        var node = await LustreNode.StartAsync(
            new NodeOptions
            {
                DataDirectory = dataDirectory,
                RunMgs = true,
                RunMds = true,
                RunOss = true,
                Listen = new IPEndPoint(IPAddress.Loopback, options.Port),
                FsName = options.FsName,
                OstCount = options.OstCount,
                DefaultStripeSize = options.DefaultStripeSize,
                DefaultStripeCount = options.DefaultStripeCount,
                Secret = options.SharedSecret,
                OstCapacityBytes = options.OstCapacityBytes,
                DirectReads = options.DirectReads,
                DirectWrites = options.DirectWrites,
                CachedReads = options.CachedReads,
                DataOnMdtLimit = options.DataOnMdtLimit,
            },
            options.LoggerFactory ?? NullLoggerFactory.Instance,
            cancellationToken).ConfigureAwait(false);
        return new LustreCluster(node, dataDirectory, options.DeleteDataOnDispose ?? created);
    }

    /// <summary>Stops the servers (cleanly: the MDT is closed, handles flushed) and deletes the data if asked to.</summary>
    public async ValueTask DisposeAsync()
    {
        await _node.DisposeAsync().ConfigureAwait(false);
        if (_deleteData)
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
