using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Server.Cluster;
using Lustre.Server.Rpc;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Reliability;

/// <summary>
/// A server that is gone (stopped, or alive but silent) costs the caller a clear transient <see cref="LustreException"/>
/// within about the configured timeouts times the attempts: never a hang.
/// </summary>
public sealed class ServerGoneTests
{
    private static readonly LustreClientOptions Fast = new()
    {
        ConnectTimeout = TimeSpan.FromSeconds(1),
        RequestTimeout = TimeSpan.FromSeconds(1),
        MaxAttempts = 3,
    };

    /// <summary>ConnectTimeout (or RequestTimeout) × attempts + the backoff between attempts (≤ 1 s each), with room for a slow CI machine.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds((1 * 3) + (1 * 2) + 5);

    private static async Task<LustreException> AssertFailsWithinBoundAsync(Func<Task> call)
    {
        var started = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<LustreException>(() => call().WaitAsync(Bound * 2));
        Assert.True(started.Elapsed < Bound, $"took {started.Elapsed}, bound {Bound}");
        Assert.True(ex.IsTransient, ex.ToString());
        Assert.IsAssignableFrom<IOException>(ex);
        return ex;
    }

    [Fact]
    public async Task A_stopped_cluster_gives_a_transient_IOException_naming_the_server_not_a_hang()
    {
        var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1 });
        var endpoint = cluster.Endpoint.ToString();
        await using var client = new LustreClient(cluster.Address, Fast);
        await using (var file = await client.OpenFileAsync("/f", FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, new byte[1000]);
        }

        await using var open = await client.OpenFileAsync("/f", access: FileAccess.Read);
        await cluster.DisposeAsync();

        var meta = await AssertFailsWithinBoundAsync(() => client.GetInfoAsync("/f"));
        Assert.Contains(endpoint, meta.Message, StringComparison.Ordinal);
        var data = await AssertFailsWithinBoundAsync(async () => await open.ReadAtAsync(0, new byte[1000]));
        Assert.Contains("OST0000", data.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_that_accepts_but_never_answers_the_handshake_times_out()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        silent.Listen(16);
        var accepted = new List<Socket>();
        var acceptLoop = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    accepted.Add(await silent.AcceptAsync());
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        });
        await using var client = new LustreClient($"{silent.LocalEndPoint}/lustre", Fast);

        var ex = await AssertFailsWithinBoundAsync(() => client.GetInfoAsync("/"));

        Assert.Contains(silent.LocalEndPoint!.ToString()!, ex.Message, StringComparison.Ordinal);
        silent.Close();
        await acceptLoop;
        accepted.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task A_server_that_handshakes_but_never_replies_fails_the_request_with_ETIMEDOUT()
    {
        var hang = new HangingService();
        await using var server = new RpcServer(new RpcServerOptions { Name = "silent" }, [hang], NullLogger.Instance);
        server.Start();
        var settings = new RpcConnectionSettings("gone-test", new XidGenerator(), Fast.ConnectTimeout, Fast.RequestTimeout, null, NullLogger.Instance);
        await using var rpc = new ServerCaller(server.LocalEndPoint, settings, maxAttempts: 3);
        using var frame = FrameBuffer.Rent();

        var ex = await AssertFailsWithinBoundAsync(async () => (await rpc.CallAsync(Opcode.MdsStatFs, frame, default, default, CancellationToken.None)).Dispose());

        Assert.Equal(LustreErrno.ETIMEDOUT, ex.Errno);
        hang.Release();
    }

    private sealed class HangingService : IRpcService
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        /// <summary>Every opcode but Ping, which the session answers itself.</summary>
        public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
            Enum.GetValues<Opcode>().Where(o => o != Opcode.Ping).Select(o => (o, (RpcHandler)HandleAsync));

        private async ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken)
        {
            await _release.Task.WaitAsync(cancellationToken);
            return RpcResponse.Ok();
        }
    }
}
