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
        foreach (var (role, name) in new[] { ("server", "srv"), ("admin", "ops") })
        {
            var made = await CliProcess.RunAsync(["key", "new", "--role", role, "--name", name, "--file", keys]);
            Assert.True(made.ExitCode == 0, made.Error);
            Assert.Equal($"added {role} key '{name}' to {keys}", made.Output.Trim());
        }

        var client = await CliProcess.RunAsync(["key", "new", "--role", "client", "--name", "alice", "--uid", "1000", "--groups", "3000", "3001", "--file", keys]);
        Assert.True(client.ExitCode == 0, client.Error);
        Assert.Equal($"added client key 'alice' to {keys}, acting as uid 1000 gid 1000 groups 3000,3001", client.Output.Trim());
        var rootClient = await CliProcess.RunAsync(["key", "new", "--role", "client", "--name", "rooted", "--file", keys]);
        Assert.Contains("acting as uid 65534 gid 65534", rootClient.Output, StringComparison.Ordinal);
        var serverWithUid = await CliProcess.RunAsync(["key", "new", "--role", "server", "--name", "srv2", "--uid", "5", "--file", keys]);
        Assert.Equal(2, serverWithUid.ExitCode);
        Assert.Contains("are for client keys", serverWithUid.Error, StringComparison.Ordinal);

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

        // alice (uid 1000) may not write the root directory; the operator makes her a home with chown and chmod.
        var refusedMkdir = await CliProcess.RunAsync(["mkdir", "--mgs", address, "/alice"], As("alice"));
        Assert.NotEqual(0, refusedMkdir.ExitCode);
        Assert.Contains("permission denied", refusedMkdir.Error, StringComparison.Ordinal);
        foreach (var step in new[] { new[] { "mkdir", "/alice" }, ["chown", "1000:3000", "/alice"], ["chmod", "750", "/alice"] })
        {
            var done = await CliProcess.RunAsync([step[0], "--mgs", address, .. step[1..]], As("ops"));
            Assert.True(done.ExitCode == 0, $"{string.Join(' ', step)}: {done.Error}");
        }

        var touched = await CliProcess.RunAsync(["touch", "--mgs", address, "/alice/notes"], As("alice"));
        Assert.True(touched.ExitCode == 0, touched.Error);
        var stat = await CliProcess.RunAsync(["stat", "--mgs", address, "/alice"], As("alice"));
        Assert.Contains("Access: (0750/drwxr-x---)  Uid: ( 1000)   Gid: ( 3000)", stat.Output, StringComparison.Ordinal);
        var badMode = await CliProcess.RunAsync(["chmod", "--mgs", address, "rwx", "/alice"], As("alice"));
        Assert.Equal(2, badMode.ExitCode);
        Assert.Contains("invalid mode 'rwx'", badMode.Error, StringComparison.Ordinal);
        var giveAway = await CliProcess.RunAsync(["chown", "--mgs", address, "0", "/alice/notes"], As("alice"));
        Assert.NotEqual(0, giveAway.ExitCode);
        Assert.Contains("only root may give", giveAway.Error, StringComparison.Ordinal);

        // Without a key the cluster does not answer at all.
        var anonymous = await CliProcess.RunAsync(["lfs", "df", "--mgs", address]);
        Assert.NotEqual(0, anonymous.ExitCode);
    }
}
