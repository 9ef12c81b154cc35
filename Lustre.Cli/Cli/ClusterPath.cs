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

    /// <summary>True when the argument ends in <c>/</c>: as in POSIX, it then names a directory that must exist.</summary>
    public static bool NamesDirectory(string argument) => argument.Length > 1 && argument[^1] == '/';

    /// <summary>
    /// The filesystem path of an argument: <c>lustre:/a</c>, <c>/a</c> and <c>a</c> are all <c>/a</c>. Empty, <c>.</c>
    /// and <c>..</c> components are resolved here, as the shell user means them (the namespace has no symbolic links,
    /// so this is exact): <c>//</c>, <c>/.</c> and <c>/a/..</c> are all the root.
    /// </summary>
    public static string Normalize(string argument)
    {
        var path = IsCluster(argument) ? argument[Prefix.Length..] : argument;
        var components = new List<string>();
        foreach (var component in path.Split('/'))
        {
            switch (component)
            {
                case "" or ".":
                    break;
                case "..":
                    if (components.Count > 0)
                    {
                        components.RemoveAt(components.Count - 1);
                    }

                    break;
                default:
                    components.Add(component);
                    break;
            }
        }

        return "/" + string.Join('/', components);
    }
}
