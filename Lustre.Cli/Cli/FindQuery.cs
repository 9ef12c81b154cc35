using Lustre.Client;
using Lustre.Layouts;

namespace Lustre.Cli;

/// <summary>
/// What one <c>lfs find</c> was asked, as <see cref="FindParser"/> read it: where to start, the tests every printed
/// entry passes (all of them: lfs find has no <c>-o</c>), the depth bounds and what ends each printed path.
/// </summary>
internal sealed class FindQuery
{
    public List<string> Roots { get; } = [];

    public List<FindTest> Tests { get; } = [];

    /// <summary><c>--newer</c> reference files, whose times are read once the cluster is connected.</summary>
    public List<FindReference> References { get; } = [];

    /// <summary>Entries above this depth (the roots are 0) are walked but not printed.</summary>
    public int MinDepth { get; set; }

    /// <summary>Nothing below this depth is walked.</summary>
    public int MaxDepth { get; set; } = int.MaxValue;

    /// <summary>'\n', or '\0' with <c>--print0</c>.</summary>
    public char Separator { get; set; } = '\n';

    public bool NeedsInfo
    {
        get
        {
            foreach (var test in Tests)
            {
                if (test.NeedsInfo)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The tests that a directory entry answers alone (name, type), so entries that fail them are never stat'ed.</summary>
    public bool MatchesEntry(string name, bool isDirectory)
    {
        foreach (var test in Tests)
        {
            if (!test.NeedsInfo && !test.Matches(new FindEntry(name, isDirectory, null)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The tests that need the attributes.</summary>
    public bool MatchesInfo(LustreFileInfo info)
    {
        var entry = new FindEntry(info.Name, info.IsDirectory, info);
        foreach (var test in Tests)
        {
            if (test.NeedsInfo && !test.Matches(entry))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>What a test looks at: the name and type from the directory entry, the attributes when the test needs them.</summary>
internal readonly record struct FindEntry(string Name, bool IsDirectory, LustreFileInfo? Info)
{
    public LustreFileInfo Attributes => Info ?? throw new InvalidOperationException("the test needs the attributes");

    /// <summary>The layout lfs find looks at: a file's own, a directory's default (null when it has none).</summary>
    public FileLayout? Layout => Attributes.IsDirectory ? Attributes.DefaultLayout : Attributes.Layout;
}

/// <summary>
/// One test of <c>lfs find</c>. <paramref name="Test"/> answers true or false, or null where it does not apply (a
/// directory has no OST objects, a plain layout no mirrors); as in lfs, <c>!</c> inverts the answer of a test that
/// applies, and an entry a test does not apply to fails it either way.
/// </summary>
internal sealed record FindTest(string Option, bool Negated, bool NeedsInfo, Func<FindEntry, bool?> Test)
{
    public bool Matches(FindEntry entry) => Test(entry) is { } answer && answer != Negated;
}

/// <summary>
/// A number compared as lfs find compares (liblustreapi's find_value_cmp): <see cref="Sign"/> &gt; 0 matches values
/// at most <see cref="Limit"/> minus <see cref="Margin"/>, &lt; 0 values above <see cref="Limit"/>, 0 values in
/// (<see cref="Limit"/> - <see cref="Margin"/>, <see cref="Limit"/>]: the margin is the unit, so "N units" means
/// "rounded up to N units" for sizes and "N whole units ago" for times.
/// </summary>
internal readonly record struct FindValue(int Sign, long Limit, long Margin)
{
    public bool Matches(long value) => Sign switch
    {
        > 0 => value + Margin <= Limit,
        < 0 => value > Limit,
        _ => value <= Limit && value + Margin > Limit,
    };
}

/// <summary>A <c>--newer</c> (<c>--newerXY</c>) reference: a file whose time Y, or a date, newer entries must pass.</summary>
internal sealed class FindReference(string argument, char timeKind)
{
    private long? _seconds;

    public string Argument => argument;

    /// <summary>The reference time in whole seconds since the epoch, as lfs compares (tv_sec).</summary>
    public long Seconds => _seconds ?? throw new InvalidOperationException($"the reference '{argument}' was not read");

    public void Set(long seconds) => _seconds = seconds;

    /// <summary>
    /// Reads the reference file's time: <c>lustre:PATH</c> is a cluster file; any other path is a local file when one
    /// exists (as IO500's timestamp file in its results folder), else a cluster path.
    /// </summary>
    public async Task ResolveAsync(LustreClient client, CancellationToken cancellationToken)
    {
        if (_seconds is not null)
        {
            return;
        }

        if (!ClusterPath.IsCluster(argument) && (File.Exists(argument) || Directory.Exists(argument)))
        {
            var local = new FileInfo(argument);
            _seconds = timeKind switch
            {
                'a' => new DateTimeOffset(local.LastAccessTimeUtc).ToUnixTimeSeconds(),
                'm' => new DateTimeOffset(local.LastWriteTimeUtc).ToUnixTimeSeconds(),
                _ => throw new FormatException($"the change time of the local file '{argument}' cannot be read here: give a cluster file (lustre:PATH) or a date (--newerXt)"),
            };
            return;
        }

        var info = await client.GetInfoAsync(ClusterPath.Normalize(argument), cancellationToken).ConfigureAwait(false);
        _seconds = (timeKind switch
        {
            'a' => info.LastAccessTime,
            'm' => info.LastWriteTime,
            _ => info.ChangeTime,
        }).ToUnixTimeSeconds();
    }
}
