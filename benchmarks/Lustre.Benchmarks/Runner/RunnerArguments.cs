using System.Globalization;
using Lustre.Cli;
using Lustre.Server.Cluster;
using Lustre.Server.Oss;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// The runner's command line: <c>--name value</c> options and <c>--flag</c> switches. Every option is read once
/// through a typed getter; <see cref="ThrowIfUnused"/> then rejects anything misspelt instead of ignoring it.
/// </summary>
internal sealed class RunnerArguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public RunnerArguments(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new ArgumentException($"Unexpected argument '{arg}': options are --name [value].", nameof(args));
            }

            var name = arg[2..];
            string? value = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                value = args[++i];
            }

            _values[name] = value;
        }
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var value))
        {
            return false;
        }

        return value is null || bool.Parse(value);
    }

    public string? Text(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var value) ? value ?? throw new ArgumentException($"--{name} needs a value.", name) : null;
    }

    /// <summary>A size with an optional K/M/G/T suffix (powers of 1024), as lfs takes them.</summary>
    public long Size(string name, long fallback) => Text(name) is { } text ? SizeParser.Parse(text, $"--{name}") : fallback;

    public int Int(string name, int fallback) =>
        Text(name) is not { } text ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value
        : throw new ArgumentException($"--{name} takes a whole number, not '{text}'.", name);

    public double Double(string name, double fallback) =>
        Text(name) is not { } text ? fallback
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
        : throw new ArgumentException($"--{name} takes a number, not '{text}'.", name);

    /// <summary>How the OSTs send large cached reads (<c>--cached-reads copy|map|auto</c>, <see cref="LustreClusterOptions.CachedReads"/>); auto by default, as the servers.</summary>
    public CachedReadMode CachedReads() => Text("cached-reads") is { } text ? CachedReadsParser.Parse(text, "--cached-reads") : CachedReadMode.Auto;

    /// <summary>
    /// Whether the OSTs write large aligned ranges with O_DIRECT (<see cref="LustreClusterOptions.DirectWrites"/>): on,
    /// as the servers default, unless <c>--buffered-writes</c> sends every write through the page cache.
    /// </summary>
    public bool DirectWrites() => !Flag("buffered-writes");

    public void ThrowIfUnused()
    {
        foreach (var name in _values.Keys)
        {
            if (!_used.Contains(name))
            {
                throw new ArgumentException($"Unknown option --{name}.", name);
            }
        }
    }
}
