using Lustre.Cli;

namespace Lustre.Tests.Cli;

public sealed class LctlCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Deactivate_shows_the_OST_inactive_in_df_and_activate_brings_it_back()
    {
        Assert.Equal("lustre-OST0003: inactive", (await cluster.RunAsync("lctl", "deactivate", "OST0003")).ShouldSucceed().Output.Trim());
        Assert.Contains("lustre-OST0003_UUID  : inactive device", (await cluster.RunAsync("lfs", "df")).ShouldSucceed().Lines);

        Assert.Equal("lustre-OST0003: active", (await cluster.RunAsync("lctl", "activate", "3")).ShouldSucceed().Output.Trim());
        Assert.DoesNotContain("inactive", (await cluster.RunAsync("lfs", "df")).ShouldSucceed().Output, StringComparison.Ordinal);
        Assert.Equal(1, (await cluster.RunAsync("lctl", "deactivate", "9")).ExitCode);
    }

    [Fact]
    public async Task Backup_mdt_names_the_folder_it_wrote_on_the_MDS_host()
    {
        var result = (await cluster.RunAsync("lctl", "backup-mdt", "nightly")).ShouldSucceed();
        Assert.Matches(@"^lustre-MDT0000: backup at commit \d+ in /\S+/mdt-backups/nightly \(on the MDS host\)$", result.Output.Trim());
        Assert.NotEqual(0, (await cluster.RunAsync("lctl", "backup-mdt", "nightly")).ExitCode);
        Assert.NotEqual(0, (await cluster.RunAsync("lctl", "backup-mdt", "a/b")).ExitCode);
    }

    [Theory]
    [InlineData("2", 2)]
    [InlineData("0x1f", 31)]
    [InlineData("OST0002", 2)]
    [InlineData("OST001f", 31)]
    [InlineData("lustre-OST0002", 2)]
    [InlineData("lustre-OST0002_UUID", 2)]
    public void An_OST_is_named_by_index_or_by_Lustre_name(string text, int index) => Assert.Equal(index, LctlCommands.ParseOst(text));

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("MDT0000")]
    [InlineData("OSTxyz")]
    [InlineData("70000")]
    public void Anything_else_is_a_clear_error(string text) =>
        Assert.Contains("is not an OST", Assert.Throws<ArgumentException>(() => LctlCommands.ParseOst(text)).Message, StringComparison.Ordinal);
}
