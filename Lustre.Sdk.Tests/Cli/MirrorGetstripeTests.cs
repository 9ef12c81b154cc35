using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Lustre.Layouts;

namespace Lustre.Tests.Cli;

/// <summary><c>lfs getstripe</c> of mirrored files: Lustre's composite shape, mirror by mirror.</summary>
public sealed partial class MirrorGetstripeTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    /// <summary>
    /// <c>lfs getstripe</c> of a file made by <c>lfs mirror create -N2</c> on Lustre (lustre-release,
    /// Documentation/ec.txt, less its erasure-coding lines): the field names, their order and their indentation.
    /// </summary>
    private const string LustreTwoMirrors = """
          lcm_layout_gen:    2
          lcm_mirror_count:  2
          lcm_entry_count:   2
            lcme_id:             65537
            lcme_mirror_id:      1
            lcme_flags:          init
            lcme_extent.e_start: 0
            lcme_extent.e_end:   EOF
              lmm_stripe_count:  1
              lmm_stripe_size:   1048576
              lmm_pattern:       raid0
              lmm_layout_gen:    0
              lmm_stripe_offset: 0
              lmm_objects:
            lcme_id:             131074
            lcme_mirror_id:      2
            lcme_flags:          init
            lcme_extent.e_start: 0
            lcme_extent.e_end:   EOF
              lmm_stripe_count:  1
              lmm_stripe_size:   1048576
              lmm_pattern:       raid0
              lmm_layout_gen:    0
              lmm_stripe_offset: 3
              lmm_objects:
        """;

    [Fact]
    public async Task Getstripe_of_a_two_mirror_file_prints_lustres_composite_shape()
    {
        await cluster.Client.CreateDirectoryAsync("/shape");
        await cluster.WriteAsync("/shape/two", 0, FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));
        var layout = (await cluster.Client.GetInfoAsync("/shape/two")).Layout!;
        Assert.Equal(2, layout.MirrorCount);

        var output = (await cluster.RunAsync("lfs", "getstripe", "/shape/two")).ShouldSucceed().Output;

        var expected = new StringBuilder();
        expected.Append("/shape/two\n");
        expected.Append(CultureInfo.InvariantCulture, $"  lcm_layout_gen:    {layout.Generation}\n");
        expected.Append("  lcm_mirror_count:  2\n");
        expected.Append("  lcm_entry_count:   2\n");
        foreach (var (mirror, id) in layout.Mirrors.Zip([65537, 131074]))
        {
            var obj = Assert.Single(mirror.Layout.Components[0].Objects);
            expected.Append(CultureInfo.InvariantCulture, $"    lcme_id:             {id}\n");
            expected.Append(CultureInfo.InvariantCulture, $"    lcme_mirror_id:      {mirror.Id}\n");
            expected.Append("    lcme_flags:          init\n");
            expected.Append("    lcme_extent.e_start: 0\n");
            expected.Append("    lcme_extent.e_end:   EOF\n");
            expected.Append("      lmm_stripe_count:  1\n");
            expected.Append("      lmm_stripe_size:   1048576\n");
            expected.Append("      lmm_pattern:       raid0\n");
            expected.Append("      lmm_layout_gen:    0\n");
            expected.Append(CultureInfo.InvariantCulture, $"      lmm_stripe_offset: {obj.OstIndex}\n");
            expected.Append("      lmm_objects:\n");
            expected.Append(CultureInfo.InvariantCulture, $"      - 0: {{ l_ost_idx: {obj.OstIndex}, l_fid: [0x{0x100000000UL | ((ulong)obj.OstIndex << 16):x}:0x{obj.ObjectId:x}:0x0] }}\n");
            expected.Append('\n');
        }

        Assert.Equal(expected.ToString(), output);
        Assert.Equal([1, 2], layout.Mirrors.Select(m => m.Id));
        Assert.NotEqual(layout.Mirrors[0].Layout.Components[0].Objects[0].OstIndex, layout.Mirrors[1].Layout.Components[0].Objects[0].OstIndex);

        // Lustre's field names, in its order and with its indentation.
        Assert.Equal(Fields(LustreTwoMirrors), Fields(output));
    }

    [Fact]
    public async Task Getstripe_of_a_mirrored_file_in_yaml_and_single_fields()
    {
        await cluster.WriteAsync("/fields", 0, FileLayout.Mirrored([FileLayout.Raid0(stripeCount: 2), FileLayout.Raid0(stripeCount: 1)]));

        Assert.Equal(["2", "1"], (await cluster.RunAsync("lfs", "getstripe", "-c", "/fields")).ShouldSucceed().Lines);
        var yaml = (await cluster.RunAsync("lfs", "getstripe", "-y", "/fields")).ShouldSucceed().Lines;
        Assert.Equal(["lcm_layout_gen", "lcm_mirror_count", "lcm_entry_count", "component0", "lcme_id", "lcme_mirror_id", "lcme_flags", "lcme_extent.e_start", "lcme_extent.e_end", "sub_layout"], yaml.Take(10).Select(l => l.Trim().Split(':')[0]));
        Assert.Equal(["  lcme_id:             65537", "  lcme_id:             131074"], yaml.Where(l => l.Contains("lcme_id", StringComparison.Ordinal)));
        Assert.Equal(["  lcme_mirror_id:      1", "  lcme_mirror_id:      2"], yaml.Where(l => l.Contains("lcme_mirror_id", StringComparison.Ordinal)));
        Assert.Equal(3, yaml.Count(l => l.Contains("l_ost_idx", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Getstripe_shows_a_stale_mirror_in_lcme_flags()
    {
        await cluster.WriteAsync("/stale-flags", 10, FileLayout.Mirrored(2, FileLayout.Raid0(stripeCount: 1)));
        await using var writer = await cluster.MarkStaleAsync("/stale-flags", 2);

        var flags = (await cluster.RunAsync("lfs", "getstripe", "/stale-flags")).ShouldSucceed().Lines.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal));

        Assert.Equal(["    lcme_flags:          init", "    lcme_flags:          init,stale"], flags);
    }

    /// <summary>The indentation and name of each <c>lcm_</c>, <c>lcme_</c> and <c>lmm_</c> field: the shape, without the values.</summary>
    private static string[] Fields(string getstripe) =>
        [.. getstripe.Split('\n').Select(l => FieldName().Match(l)).Where(m => m.Success).Select(m => m.Value)];

    [GeneratedRegex(@"^ *(lcm|lcme|lmm)_[a-z_.]+:")]
    private static partial Regex FieldName();
}
