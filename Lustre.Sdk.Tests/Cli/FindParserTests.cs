using Lustre.Cli;
using Lustre.Namespace;

namespace Lustre.Tests.Cli;

/// <summary>lfs find's argument syntax and values, read without a cluster.</summary>
public sealed class FindParserTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    [Theory]
    [InlineData("*.bin", "a.bin", true)]
    [InlineData("*.bin", ".bin", true)]
    [InlineData("*.bin", "a.bin.x", false)]
    [InlineData("*01*", "file.mdtest.3.101", true)]
    [InlineData("*01*", "file.mdtest.3.10", false)]
    [InlineData("f?le", "file", true)]
    [InlineData("f?le", "fle", false)]
    [InlineData("[a-c]x", "bx", true)]
    [InlineData("[a-c]x", "dx", false)]
    [InlineData("[!a-c]x", "dx", true)]
    [InlineData("[^a-c]x", "ax", false)]
    [InlineData("[]]", "]", true)]
    [InlineData("a[", "a[", true)]
    [InlineData("\\*", "*", true)]
    [InlineData("\\*", "x", false)]
    [InlineData("*a*b*c", "xaxbxbxc", true)]
    [InlineData("*a*b*c", "xaxbxbx", false)]
    public void Names_match_as_fnmatch(string pattern, string name, bool matches) =>
        Assert.Equal(matches, GlobPattern.Matches(pattern, name));

    [Theory]
    [InlineData("3901c", 3901, 1)]
    [InlineData("8", 8 * 512, 512)]
    [InlineData("2b", 1024, 512)]
    [InlineData("4k", 4096, 1024)]
    [InlineData("4K", 4096, 1024)]
    [InlineData("1M", 1 << 20, 1 << 20)]
    [InlineData("1MiB", 1 << 20, 1 << 20)]
    [InlineData("1.5G", 3L << 29, 1 << 30)]
    [InlineData("2T", 2L << 40, 1L << 40)]
    [InlineData("1P", 1L << 50, 1L << 50)]
    [InlineData("010c", 8, 1)]
    [InlineData("0x10", 16 * 512, 512)]
    public void Sizes_read_as_lfs_with_512_byte_blocks_by_default(string text, long bytes, long unit)
    {
        Assert.True(FindParser.TryParseSize(text, 512, out var parsed, out var parsedUnit));
        Assert.Equal((bytes, unit), (parsed, parsedUnit));
    }

    [Theory]
    [InlineData("")]
    [InlineData("x")]
    [InlineData("3x")]
    [InlineData("3kx")]
    [InlineData("99999999999999999999")]
    [InlineData("16E")]
    public void Bad_sizes_are_refused(string text) => Assert.False(FindParser.TryParseSize(text, 512, out _, out _));

    [Fact]
    public void Single_and_double_dash_long_options_abbreviations_and_short_forms_are_the_same()
    {
        foreach (var args in new[]
        {
            new[] { "/d", "-name", "*.bin", "-type", "f" },
            ["/d", "--name", "*.bin", "--type", "f"],
            ["/d", "--name=*.bin", "-type=f"],
            ["/d", "-na", "*.bin", "-ty", "f"],
            ["/d", "-n", "*.bin", "-t", "f"],
            ["/d", "-n*.bin", "-tf"],
            ["-name", "*.bin", "-type", "f", "/d"],
        })
        {
            var query = FindParser.Parse(args, Now);
            Assert.Equal(["/d"], query.Roots);
            Assert.Equal(2, query.Tests.Count);
            Assert.True(query.MatchesEntry("x.bin", isDirectory: false), string.Join(' ', args));
            Assert.False(query.MatchesEntry("x.bin", isDirectory: true), string.Join(' ', args));
            Assert.False(query.MatchesEntry("x.txt", isDirectory: false), string.Join(' ', args));
        }
    }

    [Fact]
    public void Bang_negates_the_next_option_only()
    {
        var query = FindParser.Parse(["/d", "!", "-name", "*.bin", "-type", "f"], Now);

        Assert.True(query.MatchesEntry("x.txt", isDirectory: false));
        Assert.False(query.MatchesEntry("x.bin", isDirectory: false));
        Assert.False(query.MatchesEntry("x.txt", isDirectory: true));
    }

    [Fact]
    public void Depths_and_print0_are_read()
    {
        var query = FindParser.Parse(["/a", "/b", "-mindepth", "1", "-maxd", "0x3", "-0"], Now);

        Assert.Equal(["/a", "/b"], query.Roots);
        Assert.Equal((1, 3, '\0'), (query.MinDepth, query.MaxDepth, query.Separator));
        Assert.Empty(query.Tests);
    }

    [Theory]
    [InlineData("unrecognized option '-xyz'", "/d", "-xyz")]
    [InlineData("unrecognized option '--bogus'", "/d", "--bogus", "1")]
    [InlineData("option '-mi' is ambiguous; possibilities: '-mirror-state' '-mindepth' '-mirror-count'", "/d", "-mi", "1")]
    [InlineData("option '-name' requires an argument", "/d", "-name")]
    [InlineData("option '--print0' doesn't allow an argument", "/d", "--print0=x")]
    [InlineData("'/e': filename|dirname must either precede options or follow options", "/d", "-type", "f", "/e", "-name", "x")]
    [InlineData("no filename|pathname", "-type", "f")]
    [InlineData("mindepth 3 > maxdepth 1", "/d", "-mindepth", "3", "-maxdepth", "1")]
    [InlineData("'--projid' of lfs find is not supported here: there are no project ids", "/d", "--projid", "7")]
    [InlineData("'-S' (--stripe-size) of lfs find is not supported here", "/d", "-S", "1M")]
    [InlineData("'--newerBm' of lfs find is not supported here", "/d", "--newerBm", "/x")]
    public void Usage_errors_name_the_problem(string message, params string[] args)
    {
        var error = Assert.Throws<FindUsageException>(() => FindParser.Parse(args, Now));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bad file size '3901x'", "-size", "3901x")]
    [InlineData("bad type 'x'", "-type", "x")]
    [InlineData("bad stripe_count '2001'", "-stripe-count", "2001")]
    [InlineData("bad time string '2q'", "-mtime", "2q")]
    [InlineData("invalid username/UID 'alice'", "-user", "alice")]
    [InlineData("invalid group/GID '-1'", "-gid", "-1")]
    [InlineData("bad layout 'raid5'", "-layout", "raid5")]
    [InlineData("bad OST 'OSTX'", "-ost", "OSTX")]
    [InlineData("invalid pool name 'a b'", "-pool", "a b")]
    [InlineData("invalid pool name 'lustre.sixteen_chars_xx'", "--pool", "lustre.sixteen_chars_xx")]
    [InlineData("bad mindepth 'x'", "-mindepth", "x")]
    [InlineData("invalid time 'yesterday'", "-newermt", "yesterday")]
    public void Bad_values_are_format_errors(string message, params string[] option)
    {
        var error = Assert.Throws<FormatException>(() => FindParser.Parse(["/d", .. option], Now));

        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }
}
