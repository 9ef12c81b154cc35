using Lustre.Tests.Cluster;

namespace Lustre.Tests.Cli;

/// <summary>
/// Named keys from the command line: <c>lustre key new</c> writes them, <c>lustre up --key-file</c> serves with them,
/// and the client commands prove the key named by LUSTRE_KEY from LUSTRE_KEY_FILE; a client key cannot deactivate
/// an OST, an admin key can.
/// </summary>
public sealed class KeyCommandTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-keycli-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Keys_made_by_lustre_key_new_let_a_client_work_and_only_an_admin_deactivate()
    {
        var keys = Path.Combine(_data.Path, "keys.json");
        foreach (var (role, name) in new[] { ("server", "srv"), ("admin", "ops"), ("client", "alice") })
        {
            var made = await CliProcess.RunAsync(["key", "new", "--role", role, "--name", name, "--file", keys]);
            Assert.True(made.ExitCode == 0, made.Error);
            Assert.Equal($"added {role} key '{name}' to {keys}", made.Output.Trim());
        }

        var again = await CliProcess.RunAsync(["key", "new", "--role", "client", "--name", "alice", "--file", keys]);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already has a key named 'alice'", again.Error, StringComparison.Ordinal);

        await using var server = ServerProcess.Start("up", "--data", Path.Combine(_data.Path, "cluster"), "--port", "0", "--osts", "2", "--key-file", keys);
        var address = await server.WaitForAddressAsync();
        Dictionary<string, string> As(string name) => new() { ["LUSTRE_KEY_FILE"] = keys, ["LUSTRE_KEY"] = name };

        var df = await CliProcess.RunAsync(["lfs", "df", "--mgs", address], As("alice"));
        Assert.True(df.ExitCode == 0, df.Error);
        var refused = await CliProcess.RunAsync(["lctl", "deactivate", "0", "--mgs", address], As("alice"));
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("needs an admin key", refused.Error, StringComparison.Ordinal);
        var allowed = await CliProcess.RunAsync(["lctl", "deactivate", "0", "--mgs", address], As("ops"));
        Assert.True(allowed.ExitCode == 0, allowed.Error);
        Assert.Contains("inactive", allowed.Output, StringComparison.Ordinal);

        // Without a key the cluster does not answer at all.
        var anonymous = await CliProcess.RunAsync(["lfs", "df", "--mgs", address]);
        Assert.NotEqual(0, anonymous.ExitCode);
    }
}
