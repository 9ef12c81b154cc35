using System.Text;
using System.Text.RegularExpressions;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Logging;

namespace Lustre.Tests.Rpc;

/// <summary>
/// No opcode works without the handshake: before Connect every one is refused with EPROTO, and on a server with a
/// shared secret every one is refused with EACCES between Connect and Auth; each refusal closes the connection and
/// changes nothing. The secret itself never appears in any log, the servers' or the client's.
/// </summary>
public sealed partial class AuthenticationTests
{
    private const string Secret = "s3cret-Horse-Battery-Staple-4d9f";

    /// <summary>Every opcode but the handshake's own, and an unknown one.</summary>
    private static List<Opcode> GuardedOpcodes()
    {
        var opcodes = Enum.GetValues<Opcode>().Where(o => o is not (Opcode.Connect or Opcode.Auth)).ToList();
        opcodes.Add((Opcode)999);
        return opcodes;
    }

    private static void Body(Opcode opcode, BodyWriter w)
    {
        switch (opcode)
        {
            case Opcode.MdsMkdir:
                new MkdirRequest("/intruder", 0x1ED).Write(w);
                break;
            case Opcode.MdsOpen:
                new OpenRequest("/intruder", OpenFlags.Create, 0x1A4, []).Write(w);
                break;
            case Opcode.MgsRegisterTarget:
                new RegisterTargetRequest(new TargetRecord(TargetKind.Ost, 77, "127.0.0.1:1", true)).Write(w);
                break;
            case Opcode.MgsSetTargetState:
                new SetTargetStateRequest(TargetKind.Ost, 0, false).Write(w);
                break;
            case Opcode.MdsGetAttr or Opcode.MdsRmdir or Opcode.MdsUnlink:
                new PathRequest("/").Write(w);
                break;
            case Opcode.MdsRename:
                new RenameRequest("/victim", "/intruder").Write(w);
                break;
            case Opcode.OstWrite or Opcode.OstPunch:
                new OstPunchRequest(new ObjectRef(0, 1), 1 << 20).Write(w);
                break;
            case Opcode.OstDestroy or Opcode.OstSync or Opcode.OstGetAttr:
                new ObjectRef(0, 1).Write(w);
                break;
            case Opcode.OstStatFs:
                new OstIndexRequest(0).Write(w);
                break;
            case Opcode.OstDestroyObjects:
                new OstDestroyObjectsRequest(0, [1, 2]).Write(w);
                break;
            case Opcode.OstReadBatch:
                new OstReadBatchRequest(0, [new(1, 0, 4096)]).Write(w);
                break;
            case Opcode.MdsOpenBatch:
                new OpenBatchRequest(OpenFlags.Read, [LustreFid.Root]).Write(w);
                break;
            default:
                break;
        }
    }

    [Fact]
    public async Task Every_opcode_is_refused_before_connect_and_before_auth_and_nothing_changes()
    {
        var secret = Encoding.UTF8.GetBytes(Secret);
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, SharedSecret = secret });
        await using var rightful = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = secret });
        await using (var victim = await rightful.OpenFileAsync("/victim", FileMode.CreateNew))
        {
            await victim.WriteAtAsync(0, new byte[4096]);
        }

        var configBefore = await rightful.GetUsageAsync();
        var opcodes = GuardedOpcodes();
        foreach (var opcode in opcodes)
        {
            // Before Connect: EPROTO, then the connection is closed.
            await using (var peer = await RawPeer.ConnectAsync(cluster.Endpoint))
            {
                var (reply, body, _) = await peer.CallAsync(opcode, w => Body(opcode, w));
                Assert.True((int)LustreErrno.EPROTO == reply.Status, $"{opcode} before connect got status {reply.Status}");
                Assert.Contains("before connect", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
                await peer.AssertClosedByServerAsync();
            }

            // After Connect, before Auth: EACCES, then the connection is closed.
            await using (var peer = await RawPeer.ConnectAsync(cluster.Endpoint))
            {
                Assert.True((await peer.ConnectAsync()).AuthRequired);
                var (reply, body, _) = await peer.CallAsync(opcode, w => Body(opcode, w));
                Assert.True((int)LustreErrno.EACCES == reply.Status, $"{opcode} before auth got status {reply.Status}");
                Assert.Contains("authenticate first", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
                await peer.AssertClosedByServerAsync();
            }
        }

        Assert.True(opcodes.Count >= 20, $"only {opcodes.Count} opcodes tried");
        Assert.False(await rightful.ExistsAsync("/intruder"));
        Assert.True(await rightful.ExistsAsync("/victim"));
        Assert.Equal(4096, (await rightful.GetInfoAsync("/victim")).Length);
        var configAfter = await rightful.GetUsageAsync();
        Assert.Equal(configBefore.Select(u => (u.Name, u.IsActive)), configAfter.Select(u => (u.Name, u.IsActive)));
    }

    /// <summary>The forms a leaked secret could take in a log line.</summary>
    private static void AssertNoSecret(string log, string where)
    {
        var bytes = Encoding.UTF8.GetBytes(Secret);
        foreach (var form in new[] { Secret, Convert.ToBase64String(bytes), Convert.ToHexString(bytes), Convert.ToHexString(bytes).ToLowerInvariant(), BitConverter.ToString(bytes), Secret[..12] })
        {
            Assert.False(log.Contains(form, StringComparison.Ordinal), $"the secret appears in {where} as '{form}'");
        }
    }

    [Fact]
    public async Task A_client_with_a_secret_refuses_a_server_that_does_not_ask_for_it_before_sending_anything()
    {
        // An impostor on loopback with no secret, the client reaching it through a proxy that sees every reply.
        await using var impostor = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1 });
        await using var proxy = new FrameProxy(impostor.Endpoint);
        await using var client = new LustreClient($"{proxy.Endpoint}/{impostor.Address.Split('/')[1]}", new LustreClientOptions { SharedSecret = Encoding.UTF8.GetBytes(Secret), MaxAttempts = 1 });

        var ex = await Assert.ThrowsAnyAsync<Exception>(() => client.CreateFileAsync("/stolen"));
        Assert.Contains("does not ask for the shared secret", ex.ToString(), StringComparison.Ordinal);

        // The impostor answered a Connect and nothing else, and learned nothing: no file, no other request.
        Assert.NotEmpty(proxy.Replies);
        Assert.All(proxy.Replies, header => Assert.Equal(Opcode.Connect, header.Opcode));
        await using var owner = new LustreClient(impostor.Address);
        Assert.False(await owner.ExistsAsync("/stolen"));
    }

    [Fact]
    public async Task The_server_proves_the_secret_over_the_clients_nonce_so_its_answer_cannot_be_replayed()
    {
        var secret = Encoding.UTF8.GetBytes(Secret);
        var serverNonce = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        var clientNonce = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();
        var proof = AuthProof.ComputeServer(secret, serverNonce, clientNonce, "client-1");

        Assert.True(AuthProof.VerifyServer(secret, serverNonce, clientNonce, "client-1", proof));
        Assert.False(AuthProof.VerifyServer(secret, serverNonce, [.. clientNonce.Reverse()], "client-1", proof));
        Assert.False(AuthProof.VerifyServer(Encoding.UTF8.GetBytes(Secret + "x"), serverNonce, clientNonce, "client-1", proof));
        Assert.False(AuthProof.VerifyServer(secret, serverNonce, clientNonce, "client-1", AuthProof.Compute(secret, serverNonce, "client-1")));

        // And end to end, against a server that holds the secret: the client checks its proof and goes on.
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, SharedSecret = secret });
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = secret });
        Assert.Equal("/mutual", (await client.CreateFileAsync("/mutual")).Path);
    }

    [Fact]
    public async Task The_secret_never_appears_in_the_servers_or_the_clients_logs()
    {
        var secret = Encoding.UTF8.GetBytes(Secret);
        using var serverLog = new CapturingLoggerProvider();
        using var clientLog = new CapturingLoggerProvider();
        using var serverLoggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(serverLog));
        using var clientLoggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(clientLog));
        await using (var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, SharedSecret = secret, LoggerFactory = serverLoggers }))
        {
            await using (var good = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = secret, LoggerFactory = clientLoggers }))
            {
                await using var file = await good.OpenFileAsync("/f", FileMode.CreateNew);
                await file.WriteAtAsync(0, new byte[1000]);
            }

            await using (var wrong = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = Encoding.UTF8.GetBytes(Secret + "x"), LoggerFactory = clientLoggers }))
            {
                await Assert.ThrowsAsync<UnauthorizedAccessException>(() => wrong.GetInfoAsync("/"));
            }

            await using (var none = new LustreClient(cluster.Address, new LustreClientOptions { LoggerFactory = clientLoggers }))
            {
                await Assert.ThrowsAsync<UnauthorizedAccessException>(() => none.GetInfoAsync("/"));
            }

            await using var peer = await RawPeer.ConnectAsync(cluster.Endpoint);
            await peer.ConnectAsync("guesser");
            var (reply, _, _) = await peer.CallAsync(Opcode.Auth, w => new AuthRequest(new byte[32], []).Write(w));
            Assert.Equal((int)LustreErrno.EACCES, reply.Status);
        }

        Assert.Contains("authentication failed", serverLog.Text, StringComparison.Ordinal);
        AssertNoSecret(serverLog.Text, "the server log");
        AssertNoSecret(clientLog.Text, "the client log");
    }

    [Fact]
    public async Task A_server_process_given_the_secret_by_environment_or_file_never_prints_it()
    {
        var data = Directory.CreateTempSubdirectory("lustre-secret-").FullName;
        try
        {
            var secretFile = Path.Combine(data, "secret");
            await File.WriteAllTextAsync(secretFile, Secret + "\n");
            await using var fromEnv = ServerProcess.StartWithEnvironment(
                new Dictionary<string, string> { ["LUSTRE_SECRET"] = Secret }, "up", "--data", Path.Combine(data, "env"), "--port", "0", "--osts", "1");
            await using var fromFile = ServerProcess.Start("serve", "--role", "mgs", "--data", Path.Combine(data, "file"), "--listen", "127.0.0.1:0", "--secret-file", secretFile);
            foreach (var server in new[] { fromEnv, fromFile })
            {
                var address = await server.WaitForAddressAsync();
                await using (var wrong = new LustreClient(address, new LustreClientOptions { SharedSecret = Encoding.UTF8.GetBytes("not-the-secret-at-all-but-long-enough") }))
                {
                    await Assert.ThrowsAsync<UnauthorizedAccessException>(() => wrong.GetInfoAsync("/"));
                }

                await using (var good = new LustreClient(address, new LustreClientOptions { SharedSecret = Encoding.UTF8.GetBytes(Secret) }))
                {
                    await good.RefreshConfigurationAsync();
                }

                await server.WaitForLineAsync(AuthFailedLine(), TimeSpan.FromSeconds(10));
                Assert.Equal(0, await server.TerminateAsync());
                AssertNoSecret(server.Output, "the server's output");
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [GeneratedRegex("authentication failed")]
    private static partial Regex AuthFailedLine();
}
