using Lustre.Server.Cluster;
using Lustre.Server.Oss;

namespace Lustre.Benchmarks.Runner;

/// <summary>What a benchmark's cluster chose at start-up, as a line for the run's output.</summary>
internal static class ClusterChoices
{
    /// <summary>How the cluster's OSTs send large cached reads, and the mode asked for (<c>--cached-reads</c>).</summary>
    public static string CachedReads(LustreCluster cluster, CachedReadMode asked) =>
        $"OSTs send large cached reads with sendfile to clients on their local socket, else {(cluster.Node.Oss!.MapsCachedReads ? "from a mapping of the page cache" : "through a pooled buffer")} (--cached-reads {asked.ToString().ToLowerInvariant()})";
}
