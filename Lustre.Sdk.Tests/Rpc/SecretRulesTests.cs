using System.Text;
using Lustre.Client;
using Lustre.Server.Cluster;
using Lustre.Tests.Cli;

namespace Lustre.Tests.Rpc;

/// <summary>
/// A secret that guards nothing stops whoever is given it, at once and saying why: a secret of spaces, one that is
/// short once its whitespace is trimmed, for the server (library and command) and for the client.
/// </summary>
public sealed class SecretRulesTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-secret-rules-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task The_command_refuses_a_whitespace_or_short_secret_before_serving()
    {
        var spaces = await CliProcess.RunAsync(["up", "--data", Path.Combine(_data.Path, "spaces"), "--port", "0"], new Dictionary<string, string> { ["LUSTRE_SECRET"] = new string(' ', 40) });
        Assert.NotEqual(0, spaces.ExitCode);
        Assert.Contains("LUSTRE_SECRET is empty or only whitespace", spaces.Error, StringComparison.Ordinal);

        // 16 characters of key padded with whitespace to 40: what counts is what is left after trimming.
        var file = Path.Combine(_data.Path, "secret");
        await File.WriteAllTextAsync(file, "   0123456789abcdef                     \n");
        var padded = await CliProcess.RunAsync(["serve", "--role", "mgs", "--data", Path.Combine(_data.Path, "padded"), "--listen", "127.0.0.1:0", "--secret-file", file]);
        Assert.NotEqual(0, padded.ExitCode);
        Assert.Contains("has 16 bytes; a shared secret needs at least 32", padded.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_data.Path, "padded")), "a refused server made its data folder");
    }

    [Fact]
    public async Task The_library_refuses_short_secrets_for_servers_and_clients()
    {
        var cluster = await Assert.ThrowsAsync<ArgumentException>(() => LustreCluster.StartAsync(new LustreClusterOptions { SharedSecret = Encoding.UTF8.GetBytes("sixteen-bytes-ab") }));
        Assert.Contains("has 16 bytes", cluster.Message, StringComparison.Ordinal);

        var client = Assert.Throws<ArgumentException>(() => new LustreClient("127.0.0.1:9/lustre", new LustreClientOptions { SharedSecret = new byte[40].Select(_ => (byte)' ').ToArray() }));
        Assert.Contains("SharedSecret is empty or only whitespace", client.Message, StringComparison.Ordinal);
    }
}
