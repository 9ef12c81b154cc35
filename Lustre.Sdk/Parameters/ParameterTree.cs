using Lustre.Namespace;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Parameters;

/// <summary>
/// A process's parameters, as <c>lctl</c> sees a node's: dotted names (<c>obdfilter.lustre-OST0000.stats</c>) whose
/// prefixes are directories (<c>obdfilter</c>, <c>obdfilter.lustre-OST0000</c>). The tree is read from its sources at
/// each lookup, so parameters of targets that come and go (an OST the client learns of, a target of a restarted
/// server) appear and disappear with them. Patterns match as <c>lctl get_param</c>'s glob matches paths: one glob per
/// dot-separated component (<see cref="GlobPattern"/>), the same number of components as the name.
/// </summary>
internal sealed class ParameterTree
{
    private readonly Lock _lock = new();
    private readonly List<Func<IEnumerable<Parameter>>> _sources = [];

    /// <summary>Adds parameters that are read from <paramref name="source"/> at each lookup.</summary>
    public void Add(Func<IEnumerable<Parameter>> source)
    {
        lock (_lock)
        {
            _sources.Add(source);
        }
    }

    /// <summary>Adds one parameter for the life of the tree.</summary>
    public void Add(Parameter parameter) => Add(() => [parameter]);

    /// <summary>Every parameter now.</summary>
    private IReadOnlyList<Parameter> All()
    {
        Func<IEnumerable<Parameter>>[] sources;
        lock (_lock)
        {
            sources = [.. _sources];
        }

        var all = new List<Parameter>();
        foreach (var source in sources)
        {
            all.AddRange(source());
        }

        return all;
    }

    /// <summary>
    /// The parameters and directories <paramref name="pattern"/> names, in name order (as glob(3) sorts paths); with
    /// <paramref name="recursive"/>, also everything below each directory matched (<c>lctl list_param -R</c>).
    /// </summary>
    public IReadOnlyList<ParameterEntry> Match(string pattern, bool recursive)
    {
        var parameters = All();
        var entries = new SortedDictionary<string, Parameter?>(StringComparer.Ordinal);
        var directories = new HashSet<string>(StringComparer.Ordinal);
        foreach (var parameter in parameters)
        {
            for (var dot = parameter.Name.IndexOf('.'); dot > 0; dot = parameter.Name.IndexOf('.', dot + 1))
            {
                directories.Add(parameter.Name[..dot]);
            }
        }

        var components = pattern.Split('.');
        foreach (var directory in directories)
        {
            if (Matches(components, directory))
            {
                entries[directory] = null;
                if (recursive)
                {
                    AddBelow(directory, parameters, directories, entries);
                }
            }
        }

        foreach (var parameter in parameters)
        {
            if (Matches(components, parameter.Name))
            {
                entries[parameter.Name] = parameter;
            }
        }

        var result = new List<ParameterEntry>(entries.Count);
        foreach (var (name, parameter) in entries)
        {
            result.Add(new ParameterEntry(name, parameter));
        }

        return result;
    }

    /// <summary>
    /// <c>lctl set_param PATTERN=VALUE</c>: writes <paramref name="value"/> to every parameter the pattern names (a
    /// directory it names is passed over, as lctl passes over what is not a file), each with its own result. A pattern
    /// that names nothing gets one result, ENOENT under the pattern's name. With <paramref name="checkOnly"/> nothing
    /// changes: each result says what the write would do.
    /// </summary>
    public IReadOnlyList<SetParamResult> Set(string pattern, string value, bool checkOnly)
    {
        var entries = Match(pattern, recursive: false);
        if (entries.Count == 0)
        {
            return [new SetParamResult(pattern, LustreErrno.ENOENT, $"no parameter matches '{pattern}'")];
        }

        var results = new List<SetParamResult>(entries.Count);
        foreach (var entry in entries)
        {
            if (entry.Parameter is not { } parameter)
            {
                continue;
            }

            try
            {
                var change = parameter.Check(value);
                if (!checkOnly)
                {
                    change();
                }

                results.Add(new SetParamResult(parameter.Name, LustreErrno.None, string.Empty));
            }
            catch (ParameterException ex)
            {
                results.Add(new SetParamResult(parameter.Name, ex.Errno, ex.Message));
            }
        }

        return results;
    }

    private static void AddBelow(string directory, IReadOnlyList<Parameter> parameters, HashSet<string> directories, SortedDictionary<string, Parameter?> entries)
    {
        var prefix = directory + ".";
        foreach (var below in directories)
        {
            if (below.StartsWith(prefix, StringComparison.Ordinal))
            {
                entries.TryAdd(below, null);
            }
        }

        foreach (var parameter in parameters)
        {
            if (parameter.Name.StartsWith(prefix, StringComparison.Ordinal))
            {
                entries[parameter.Name] = parameter;
            }
        }
    }

    private static bool Matches(string[] pattern, string name)
    {
        var start = 0;
        for (var i = 0; i < pattern.Length; i++)
        {
            var end = name.IndexOf('.', start);
            var last = i == pattern.Length - 1;
            if (last != (end < 0))
            {
                return false;
            }

            var component = last ? name[start..] : name[start..end];
            if (!GlobPattern.Matches(pattern[i], component))
            {
                return false;
            }

            start = end + 1;
        }

        return true;
    }
}
