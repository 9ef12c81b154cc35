using System.Text.Json;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Server.Rpc;
using Lustre.Server.Security;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Security;

/// <summary>
/// Named keys with roles (issue 19): a cluster started from a key file lets a client key read and write files but not
/// register, re-point or deactivate a target, back up the MDT or destroy objects; an admin key may deactivate;
/// the servers reach each other with their server key. Unknown names and wrong secrets are refused.
/// </summary>
public sealed class RoleKeyTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-keys-");

    public void Dispose() => _data.Dispose();

    private static LustreClientOptions As(NamedKey key) => new() { SharedSecret = key.Secret, KeyName = key.Name, MaxAttempts = 1 };

    [Fact]
    public async Task A_client_key_cannot_register_repoint_or_deactivate_a_target_nor_back_up_and_an_admin_key_can_deactivate()
    {
        var file = Path.Combine(_data.Path, "keys.json");
        var server = KeyFile.Add(file, "srv-1", KeyRole.Server);
        var admin = KeyFile.Add(file, "ops", KeyRole.Admin);

        // A trusted root identity: what it may do to files is not in question here, only what its role allows.
        var alice = KeyFile.Add(file, "alice", KeyRole.Client, ClientIdentity.Root, trusted: true);
        await using var node = await LustreNode.StartAsync(
            new NodeOptions { DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 2, Keys = KeyFile.Load(file) },
            NullLoggerFactory.Instance,
            CancellationToken.None);
        var address = $"{node.Endpoint}/{node.FsName}";

        // The client key does a client's work.
        await using var client = new LustreClient(address, As(alice));
        await using (var written = await client.OpenFileAsync("/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 2)))
        {
            await written.WriteAtAsync(0, new byte[3 << 20]);
        }

        // ... and nothing more.
        var deactivate = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => client.SetOstActiveAsync(0, active: false));
        Assert.Contains("needs an admin key", deactivate.Message, StringComparison.Ordinal);
        var backup = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => client.BackupMdtAsync("stolen", CancellationToken.None));
        Assert.Contains("needs an admin key", backup.Message, StringComparison.Ordinal);
        var pool = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => client.CreatePoolAsync("mine"));
        Assert.Contains("MgsPool needs an admin key", pool.Message, StringComparison.Ordinal);
        Assert.Empty(await client.GetPoolsAsync());

        var settings = new RpcConnectionSettings("impostor-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), alice.Secret, NullLogger.Instance, KeyName: alice.Name);
        await using (var connection = await RpcConnection.ConnectAsync(node.Endpoint, settings, CancellationToken.None))
        {
            using var frame = FrameBuffer.Rent();
            new RegisterTargetRequest(new TargetRecord(TargetKind.Ost, 0, "127.0.0.1:1", true)).Write(frame.Body);
            using var repoint = await connection.CallAsync(Opcode.MgsRegisterTarget, frame, default, default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, repoint.Status);
            Assert.Contains("needs a server key", repoint.ErrorMessage, StringComparison.Ordinal);

            using var destroyFrame = FrameBuffer.Rent();
            new OstDestroyObjectsRequest(0, [1, 2, 3]).Write(destroyFrame.Body);
            using var destroy = await connection.CallAsync(Opcode.OstDestroyObjects, destroyFrame, default, default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EACCES, destroy.Status);
        }

        // Nothing changed: OST0 is where it was and active, and the file reads back whole.
        await using var operations = new LustreClient(address, As(admin));
        Assert.All(await operations.GetUsageAsync(), target => Assert.True(target.IsActive, $"{target.Name} is inactive"));
        await using (var read = await operations.OpenFileAsync("/f", FileMode.Open, FileAccess.Read))
        {
            Assert.Equal(3 << 20, await read.ReadAtAsync(0, new byte[3 << 20]));
        }

        // The admin key may take a target out of service and back.
        await operations.SetOstActiveAsync(1, active: false);
        Assert.False((await operations.GetUsageAsync()).Single(t => t.Name.EndsWith("OST0001", StringComparison.Ordinal)).IsActive);
        await operations.SetOstActiveAsync(1, active: true);

        // ... and make pools, which any key may list.
        await operations.CreatePoolAsync("ops");
        Assert.Equal("ops", Assert.Single(await client.GetPoolsAsync()).Name);

        // The node's own server key registered its targets and reached the OSTs from the MDS: the cluster works at all.
        Assert.Equal(KeyRole.Server, server.Role);
    }

    [Fact]
    public async Task Any_key_reads_parameters_and_lists_the_persistent_ones_but_only_an_admin_key_changes_them()
    {
        var file = Path.Combine(_data.Path, "keys.json");
        KeyFile.Add(file, "srv-1", KeyRole.Server);
        var admin = KeyFile.Add(file, "ops", KeyRole.Admin);
        var alice = KeyFile.Add(file, "alice", KeyRole.Client, ClientIdentity.Root, trusted: true);
        await using var node = await LustreNode.StartAsync(
            new NodeOptions { DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 1, Keys = KeyFile.Load(file) },
            NullLoggerFactory.Instance,
            CancellationToken.None);

        async Task<RpcReply> Call(NamedKey key, Opcode opcode, Action<Lustre.Protocol.BodyWriter> body, Memory<byte> bulk = default)
        {
            var settings = new RpcConnectionSettings(key.Name + "-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), key.Secret, NullLogger.Instance, KeyName: key.Name);
            await using var connection = await RpcConnection.ConnectAsync(node.Endpoint, settings, CancellationToken.None);
            using var frame = FrameBuffer.Rent();
            body(frame.Body);
            return await connection.CallAsync(opcode, frame, default, bulk, settings.Xids.Next(), false, CancellationToken.None);
        }

        using (var read = await Call(alice, Opcode.GetParam, w => new GetParamRequest(GetParamFlags.None, 4096, 0, ["mdt.*.job_cleanup_interval"]).Write(w), new byte[4096]))
        {
            Assert.Equal(0, read.Status);
        }

        using (var set = await Call(alice, Opcode.SetParam, w => new SetParamRequest(false, [("mdt.*.job_cleanup_interval", "1")]).Write(w)))
        {
            Assert.Equal((int)LustreErrno.EACCES, set.Status);
            Assert.Contains("needs an admin key", set.ErrorMessage, StringComparison.Ordinal);
        }

        using (var store = await Call(alice, Opcode.MgsParams, w => new MgsParamsRequest(MgsParamsOperation.Set, "mdt.*.job_cleanup_interval", "1").Write(w)))
        {
            Assert.Equal((int)LustreErrno.EACCES, store.Status);
        }

        using (var list = await Call(alice, Opcode.MgsParams, w => new MgsParamsRequest(MgsParamsOperation.List, string.Empty, string.Empty).Write(w)))
        {
            Assert.Equal(0, list.Status);
        }

        using (var set = await Call(admin, Opcode.SetParam, w => new SetParamRequest(false, [("mdt.*.job_cleanup_interval", "60")]).Write(w)))
        {
            Assert.Equal(0, set.Status);
        }

        Assert.Equal("60", Assert.Single(node.Parameters.Match("mdt.*.job_cleanup_interval", recursive: false)).Parameter!.Read());
    }

    [Fact]
    public async Task An_unknown_key_name_or_another_keys_secret_is_refused()
    {
        var file = Path.Combine(_data.Path, "keys.json");
        KeyFile.Add(file, "srv-1", KeyRole.Server);
        var alice = KeyFile.Add(file, "alice", KeyRole.Client);
        await using var node = await LustreNode.StartAsync(
            new NodeOptions { DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 1, Keys = KeyFile.Load(file) },
            NullLoggerFactory.Instance,
            CancellationToken.None);
        var address = $"{node.Endpoint}/{node.FsName}";

        await using var unknown = new LustreClient(address, new LustreClientOptions { SharedSecret = alice.Secret, KeyName = "mallory", MaxAttempts = 1 });
        Assert.Contains("authentication failed", (await Assert.ThrowsAnyAsync<Exception>(() => unknown.GetInfoAsync("/"))).ToString(), StringComparison.Ordinal);
        await using var borrowed = new LustreClient(address, new LustreClientOptions { SharedSecret = alice.Secret, KeyName = "srv-1", MaxAttempts = 1 });
        Assert.Contains("authentication failed", (await Assert.ThrowsAnyAsync<Exception>(() => borrowed.GetInfoAsync("/"))).ToString(), StringComparison.Ordinal);
        await using var plain = new LustreClient(address, new LustreClientOptions { SharedSecret = alice.Secret, MaxAttempts = 1 });
        Assert.Contains("authentication failed", (await Assert.ThrowsAnyAsync<Exception>(() => plain.GetInfoAsync("/"))).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Key_files_are_made_owner_only_and_refuse_bad_entries_by_name()
    {
        var file = Path.Combine(_data.Path, "keys.json");
        KeyFile.Add(file, "a", KeyRole.Client);
        KeyFile.Add(file, "b", KeyRole.Admin);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }

        Assert.Equal(["a", "b"], KeyFile.Load(file).Select(k => k.Name));
        Assert.Throws<ArgumentException>(() => KeyFile.Add(file, "a", KeyRole.Server));
        Assert.Throws<ArgumentException>(() => KeyFile.Add(file, "bad name", KeyRole.Server));

        var bad = Path.Combine(_data.Path, "bad.json");
        File.WriteAllText(bad, JsonSerializer.Serialize(new { keys = new[] { new { name = "x", role = "root", secret = Convert.ToBase64String(new byte[32]) } } }));
        Assert.Contains("role 'root'", Assert.Throws<InvalidDataException>(() => KeyFile.Load(bad)).Message, StringComparison.Ordinal);
        File.WriteAllText(bad, JsonSerializer.Serialize(new { keys = new[] { new { name = "x", role = "client", secret = Convert.ToBase64String(new byte[8]) } } }));
        Assert.Contains("8 bytes", Assert.Throws<InvalidDataException>(() => KeyFile.Load(bad)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_key_carries_its_identity_root_is_squashed_unless_trusted_and_other_roles_carry_none()
    {
        var file = Path.Combine(_data.Path, "ids.json");
        KeyFile.Add(file, "alice", KeyRole.Client, new ClientIdentity(1000, 100, [3000, 3001]));
        KeyFile.Add(file, "root", KeyRole.Client, ClientIdentity.Root);
        KeyFile.Add(file, "admin-host", KeyRole.Client, ClientIdentity.Root, trusted: true);
        KeyFile.Add(file, "plain", KeyRole.Client);
        KeyFile.Add(file, "srv", KeyRole.Server);
        var keys = KeyFile.Load(file).ToDictionary(k => k.Name);

        Assert.Equal(new ClientIdentity(1000, 100, [3000, 3001]).ToString(), keys["alice"].EffectiveIdentity.ToString());
        Assert.True(keys["alice"].EffectiveIdentity.InGroup(3001));
        Assert.Equal(ClientIdentity.Nobody, keys["root"].EffectiveIdentity.Uid);
        Assert.Equal(ClientIdentity.Nobody, keys["plain"].EffectiveIdentity.Uid);
        Assert.True(keys["admin-host"].EffectiveIdentity.IsRoot);
        Assert.True(keys["srv"].EffectiveIdentity.IsRoot);
        Assert.Throws<ArgumentException>(() => KeyFile.Add(file, "srv2", KeyRole.Server, new ClientIdentity(5, 5, [])));

        var bad = Path.Combine(_data.Path, "bad-ids.json");
        var secret = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i + 1)).ToArray());
        File.WriteAllText(bad, $$"""{"keys": [{"name": "s", "role": "server", "secret": "{{secret}}", "uid": 5}]}""");
        Assert.Contains("only client keys carry uid", Assert.Throws<InvalidDataException>(() => KeyFile.Load(bad)).Message, StringComparison.Ordinal);
        File.WriteAllText(bad, $$"""{"keys": [{"name": "c", "role": "client", "secret": "{{secret}}", "uid": -1}]}""");
        Assert.Contains("uid '-1' is not a number", Assert.Throws<InvalidDataException>(() => KeyFile.Load(bad)).Message, StringComparison.Ordinal);
        File.WriteAllText(bad, $$"""{"keys": [{"name": "c", "role": "client", "secret": "{{secret}}", "uid": 1, "groups": ["wheel"]}]}""");
        Assert.Contains("group 'wheel' is not a group id", Assert.Throws<InvalidDataException>(() => KeyFile.Load(bad)).Message, StringComparison.Ordinal);
        File.WriteAllText(bad, $$"""{"keys": [{"name": "c", "role": "client", "secret": "{{secret}}", "uid": 1, "trusted": "yes"}]}""");
        Assert.Contains("trusted must be true or false", Assert.Throws<InvalidDataException>(() => KeyFile.Load(bad)).Message, StringComparison.Ordinal);
    }
}
