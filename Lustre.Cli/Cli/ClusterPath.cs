namespace Lustre.Cli;

/// <summary>
/// Paths on the command line. Cluster paths are written <c>lustre:/dir/file</c>, as scp writes <c>host:path</c>;
/// commands that only take cluster paths (ls, lfs ...) also accept the bare <c>/dir/file</c>.
/// </summary>
internal static class ClusterPath
{
    public const string Prefix = "lustre:";

    /// <summary>True when <paramref name="argument"/> names a path in the cluster (<c>lustre:/...</c>).</summary>
    public static bool IsCluster(string argument) => argument.StartsWith(Prefix, StringComparison.Ordinal);

    /// <summary>The filesystem path of an argument: <c>lustre:/a</c>, <c>/a</c> and <c>a</c> are all <c>/a</c>.</summary>
    public static string Normalize(string argument)
    {
        var path = IsCluster(argument) ? argument[Prefix.Length..] : argument;
        path = path.TrimEnd('/');
        return path.Length == 0 ? "/" : path[0] == '/' ? path : "/" + path;
    }
}
