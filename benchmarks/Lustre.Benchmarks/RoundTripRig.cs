using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Oss;
using Lustre.Server.Rpc;
using Lustre.Threading;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Benchmarks;

/// <summary>
/// One OST behind a real <see cref="RpcServer"/> and <see cref="OssService"/> on a temporary folder, and one
/// <see cref="RpcConnection"/> to it: the data RPC round trips the allocation benchmarks time, one call at a time.
/// </summary>
internal sealed class RoundTripRig : IDisposable
{
    private readonly string _directory;
    private readonly DirectWriter? _directWriter;
    private readonly OssService _oss;
    private readonly RpcServer _server;
    private readonly RpcConnection _connection;
    private readonly RpcConnectionSettings _settings;
    private readonly byte[] _data;
    private readonly byte[] _back;

    /// <param name="size">Bytes each write sends and each read asks for.</param>
    /// <param name="checksums">Bulk checksums on the connection.</param>
    /// <param name="directWrites">The OST writes large aligned bulks with O_DIRECT, as servers do by default.</param>
    public RoundTripRig(int size, bool checksums, bool directWrites)
    {
        _directory = Path.Combine(Path.GetTempPath(), $"lustre-rpc-bench-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        _directWriter = directWrites ? new DirectWriter() : null;
        Store = new ObjectStore(0, _directory, directWrites: _directWriter);
        _oss = new OssService([Store]);
        _server = new RpcServer(new RpcServerOptions { Name = "oss-bench" }, [_oss], NullLogger.Instance);
        _server.Start();
        _settings = new RpcConnectionSettings("bench-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), null, NullLogger.Instance, checksums);
        _connection = RpcConnection.ConnectAsync(_server.LocalEndPoint, _settings, CancellationToken.None).GetAwaiter().GetResult();
        _data = GC.AllocateArray<byte>(size, pinned: true);
        Random.Shared.NextBytes(_data);
        _back = GC.AllocateArray<byte>(size, pinned: true);
        WriteAsync().AsTask().GetAwaiter().GetResult();
    }

    public ObjectStore Store { get; }

    // Pooled builders: the rig's own async frame must not show up as the RPC's allocation.
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<int> WriteAsync()
    {
        using var frame = FrameBuffer.Rent();
        new OstWriteRequest(new ObjectRef(0, 1), 0).Write(frame.Body);
        using var reply = await _connection.CallAsync(Opcode.OstWrite, frame, _data, default, _settings.Xids.Next(), resend: false, CancellationToken.None);
        return reply.Status;
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<int> ReadAsync()
    {
        using var frame = FrameBuffer.Rent();
        new OstReadRequest(new ObjectRef(0, 1), 0, _back.Length).Write(frame.Body);
        using var reply = await _connection.CallAsync(Opcode.OstRead, frame, default, _back, _settings.Xids.Next(), resend: false, CancellationToken.None);
        return reply.BulkLength;
    }

    public void Dispose()
    {
        _connection.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _oss.Dispose();
        _directWriter?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
