using Lustre.Parameters;
using Lustre.Protocol;

namespace Lustre.Tests.Parameters;

/// <summary>The parameter tree on its own: lctl's glob per component, directories, set_param's checks.</summary>
public sealed class ParameterTreeTests
{
    private int _rpcs = 8;

    private ParameterTree Tree()
    {
        var tree = new ParameterTree();
        tree.Add(new Parameter("version", () => "1.0"));
        tree.Add(() =>
        [
            new Parameter("osc.lustre-OST0000-osc-abc.max_rpcs_in_flight", () => _rpcs.ToString(System.Globalization.CultureInfo.InvariantCulture), v =>
            {
                var n = (int)ParameterValues.Integer("osc.lustre-OST0000-osc-abc.max_rpcs_in_flight", v, 1, 256);
                return () => _rpcs = n;
            }),
            new Parameter("osc.lustre-OST0001-osc-abc.max_rpcs_in_flight", () => "8", v => () => { }),
            new Parameter("osc.lustre-OST0001-osc-abc.ost_conn_uuid", () => "127.0.0.1:1"),
        ]);
        return tree;
    }

    [Theory]
    [InlineData("osc.*.max_rpcs_in_flight", "osc.lustre-OST0000-osc-abc.max_rpcs_in_flight,osc.lustre-OST0001-osc-abc.max_rpcs_in_flight")]
    [InlineData("osc.*OST0001*.*", "osc.lustre-OST0001-osc-abc.max_rpcs_in_flight,osc.lustre-OST0001-osc-abc.ost_conn_uuid")]
    [InlineData("osc.*", "osc.lustre-OST0000-osc-abc,osc.lustre-OST0001-osc-abc")]
    [InlineData("osc", "osc")]
    [InlineData("*", "osc,version")]
    [InlineData("osc.lustre-OST000[1-9]-osc-abc.ost_conn_uuid", "osc.lustre-OST0001-osc-abc.ost_conn_uuid")]
    [InlineData("osc.*.max_rpcs_in_fligh?", "osc.lustre-OST0000-osc-abc.max_rpcs_in_flight,osc.lustre-OST0001-osc-abc.max_rpcs_in_flight")]
    [InlineData("*.max_rpcs_in_flight", "")]
    [InlineData("osc.*.*.*", "")]
    [InlineData("vers", "")]
    public void A_pattern_matches_component_by_component_as_lctl_globs_paths(string pattern, string expected) =>
        Assert.Equal(expected, string.Join(',', Tree().Match(pattern, recursive: false).Select(e => e.Name)));

    [Fact]
    public void Recursive_adds_everything_below_a_matched_directory_and_marks_directories()
    {
        var entries = Tree().Match("osc", recursive: true);

        Assert.Equal(
            ["osc", "osc.lustre-OST0000-osc-abc", "osc.lustre-OST0000-osc-abc.max_rpcs_in_flight", "osc.lustre-OST0001-osc-abc", "osc.lustre-OST0001-osc-abc.max_rpcs_in_flight", "osc.lustre-OST0001-osc-abc.ost_conn_uuid"],
            entries.Select(e => e.Name));
        Assert.True(entries[0].IsDirectory);
        Assert.False(entries[2].IsDirectory);
    }

    [Fact]
    public void Set_writes_every_parameter_the_pattern_names_and_check_only_changes_nothing()
    {
        var tree = Tree();

        var checks = tree.Set("osc.*OST0000*.max_rpcs_in_flight", "16", checkOnly: true);
        Assert.Equal(LustreErrno.None, Assert.Single(checks).Status);
        Assert.Equal(8, _rpcs);

        tree.Set("osc.*OST0000*.max_rpcs_in_flight", "0x10", checkOnly: false);
        Assert.Equal(16, _rpcs);
        Assert.Equal("16", tree.Match("osc.*OST0000*.max_rpcs_in_flight", false)[0].Parameter!.Read());
    }

    [Theory]
    [InlineData("osc.*OST0000*.max_rpcs_in_flight", "0", LustreErrno.ERANGE, "must be 1 to 256; 0 is not")]
    [InlineData("osc.*OST0000*.max_rpcs_in_flight", "257", LustreErrno.ERANGE, "must be 1 to 256; 257 is not")]
    [InlineData("osc.*OST0000*.max_rpcs_in_flight", "many", LustreErrno.EINVAL, "takes a number from 1 to 256")]
    [InlineData("osc.*OST0001*.ost_conn_uuid", "x", LustreErrno.EACCES, "is read-only")]
    [InlineData("version", "2.0", LustreErrno.EACCES, "version is read-only")]
    [InlineData("osc.*.nothing", "1", LustreErrno.ENOENT, "no parameter matches 'osc.*.nothing'")]
    public void Absurd_values_read_only_parameters_and_unknown_names_are_refused_and_change_nothing(string pattern, string value, LustreErrno errno, string message)
    {
        var result = Assert.Single(Tree().Set(pattern, value, checkOnly: false));

        Assert.Equal(errno, result.Status);
        Assert.Contains(message, result.Message, StringComparison.Ordinal);
        Assert.Equal(8, _rpcs);
    }

    [Fact]
    public void A_directory_the_pattern_names_is_passed_over_as_lctl_passes_over_what_is_not_a_file() =>
        Assert.Empty(Tree().Set("osc.*", "1", checkOnly: false));

    [Theory]
    [InlineData("1", true)]
    [InlineData("on", true)]
    [InlineData("0", false)]
    [InlineData("N", false)]
    public void Booleans_read_as_kstrtobool(string text, bool expected) => Assert.Equal(expected, ParameterValues.Boolean("p", text));

    [Fact]
    public void A_boolean_that_is_none_is_EINVAL() =>
        Assert.Equal(LustreErrno.EINVAL, Assert.Throws<ParameterException>(() => ParameterValues.Boolean("p", "maybe")).Errno);
}
