using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.Protocol;
using Xunit.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// Fuzzing over the wire: mutated request frames on raw sockets against a live `lustre up` child process. Most
/// connections complete the handshake first so the mutations reach every handler. After its frames a connection
/// half-closes; the server must answer with well-formed reply frames and then close (or close at once), never
/// hang, never crash, and keep serving a real client; its memory must stay bounded. CI runs a bounded count; the
/// full run: <c>LUSTRE_WIRE_FUZZ_INPUTS=300000 dotnet test Lustre.Sdk.Tests --filter WireFuzz</c>.
/// </summary>
public sealed class WireFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int FramesPerConnection = 16;
    private const int Parallel = 8;
    private readonly TempFolder _data = new("lustre-wirefuzz-");

    private static int Inputs => int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_WIRE_FUZZ_INPUTS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 20_000;

    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 7070;

    public void Dispose() => _data.Dispose();

    private static byte[] Frame(Opcode opcode, Action<BodyWriter>? body, byte[]? bulk = null) => RawPeer.Frame(opcode, 1, body, bulk);

    /// <summary>Valid requests of every opcode, inside /fz so that the ones that survive mutation land somewhere harmless.</summary>
    private static byte[][] Seeds()
    {
        var fid = LustreFid.Root;
        var obj = new ObjectRef(0, 3);
        return
        [
            Frame(Opcode.Ping, null),
            Frame(Opcode.MgsGetConfig, null),
            Frame(Opcode.MdsGetAttr, w => new PathRequest("/fz/a").Write(w)),
            Frame(Opcode.MdsOpen, w => new OpenRequest("/fz/f", OpenFlags.Create | OpenFlags.Write, 0x1A4, []).Write(w)),
            Frame(Opcode.MdsSetAttr, w => new SetAttrRequest(fid, SetAttrMask.ModifyTime, 0, 0, 0, 0, 0, 5).Write(w)),
            Frame(Opcode.MdsReadDir, w => new ReadDirRequest("/fz", string.Empty, 64).Write(w)),
            Frame(Opcode.MdsMkdir, w => new MkdirRequest("/fz/d", 0x1ED).Write(w)),
            Frame(Opcode.MdsRmdir, w => new PathRequest("/fz/d").Write(w)),
            Frame(Opcode.MdsUnlink, w => new PathRequest("/fz/f").Write(w)),
            Frame(Opcode.MdsRename, w => new RenameRequest("/fz/f", "/fz/g").Write(w)),
            Frame(Opcode.MdsStatFs, null),
            Frame(Opcode.MdsSetDirLayout, w => new SetDirLayoutRequest("/fz", []).Write(w)),
            Frame(Opcode.MdsClose, w => new CloseRequest(fid, true).Write(w)),
            Frame(Opcode.MdsCapability, w => new CapabilityRequest(fid, OpenFlags.Read).Write(w)),
            Frame(Opcode.MdsReadDirPlus, w => new ReadDirPlusRequest("/fz", string.Empty, 64, 65536).Write(w)),
            Frame(Opcode.MdsGetAttrBatch, w => new GetAttrBatchRequest(OpenFlags.Read, ["/fz/a", "/fz", "/fz/f"]).Write(w)),
            Frame(Opcode.MdsMigrate, w => new MigrateRequest("/fz/f", fid, MigrateOperation.Renew, MigrateFlags.None, 1, 1, []).Write(w)),
            Frame(Opcode.OstRead, w => new OstReadRequest(obj, 0, 4096).Write(w)),
            Frame(Opcode.OstWrite, w => new OstWriteRequest(obj, 4096).Write(w), [1, 2, 3, 4, 5, 6, 7, 8]),
            Frame(Opcode.OstPunch, w => new OstPunchRequest(obj, 100).Write(w)),
            Frame(Opcode.OstSync, w => obj.Write(w)),
            Frame(Opcode.OstGetAttr, w => obj.Write(w)),
            Frame(Opcode.OstDestroy, w => new ObjectRef(0, 1_000_000).Write(w)),
            Frame(Opcode.OstStatFs, w => new OstIndexRequest(0).Write(w)),
            Frame(Opcode.OstDestroyObjects, w => new OstDestroyObjectsRequest(0, [1_000_001, 1_000_002]).Write(w)),
            Frame(Opcode.OstReadBatch, w => new OstReadBatchRequest(0, [new(obj.ObjectId, 0, 4096), new(obj.ObjectId, 100, 10)]).Write(w)),
            Frame(Opcode.MdsOpenBatch, w => new OpenBatchRequest(OpenFlags.Read, [fid, LustreFid.Root]).Write(w)),
            Frame(Opcode.MdsOpen, w => new OpenRequest("/fz/f", OpenFlags.Read, 0, [], 1 << 20).Write(w)),
            Frame(Opcode.MdsDomRead, w => new DomReadRequest(fid, 0, 4096).Write(w)),
            Frame(Opcode.MdsDomWrite, w => new DomWriteRequest(fid, 10).Write(w), [1, 2, 3, 4]),
            Frame(Opcode.MdsDomReadBatch, w => new DomReadBatchRequest([new(fid, 0, 4096), new(fid, 100, 10)]).Write(w)),
        ];
    }

    private static byte[] ConnectFrame(ulong xid) =>
        RawPeer.Frame(Opcode.Connect, xid, w => new ConnectRequest(FrameHeader.CurrentVersion, ProtocolFeatures.All, "fuzz-" + xid.ToString(CultureInfo.InvariantCulture)).Write(w));

    /// <summary>Mutates a frame: usually only its body, keeping the header's length fields true, sometimes the whole frame.</summary>
    private static byte[] MutateFrame(FrameMutator mutator, byte[] frame, byte[] other, ulong xid)
    {
        byte[] result;
        if (mutator.Next(16) != 0)
        {
            var header = frame.AsSpan(0, FrameHeader.Size).ToArray();
            var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(24));
            var body = frame.AsSpan(FrameHeader.Size, bodyLength).ToArray();
            var bulk = frame.AsSpan(FrameHeader.Size + bodyLength).ToArray();
            var mutated = mutator.Mutate(body, other.AsSpan(FrameHeader.Size).ToArray());
            if (mutated.Length > ProtocolLimits.MaxBodyLength)
            {
                mutated = mutated[..ProtocolLimits.MaxBodyLength];
            }

            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(24), mutated.Length);
            if (mutator.Next(8) == 0)
            {
                // A corrupt bulk checksum or a flipped flag now and then.
                header[32] ^= 1;
                header[8] ^= (byte)(1 << mutator.Next(3));
            }

            result = [.. header, .. mutated, .. bulk];
        }
        else
        {
            result = mutator.Mutate(frame, other);
        }

        if (result.Length >= 24)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(result.AsSpan(16), xid);
        }

        if (result.Length >= 8 && (Opcode)BinaryPrimitives.ReadUInt16LittleEndian(result.AsSpan(6)) is Opcode.MgsRegisterTarget or Opcode.MgsSetTargetState)
        {
            // Any admitted peer may (re-)register or deactivate a target; a fuzzed one that points OST0000 at a
            // dead address is a working attack, not a crash, and would fail the serving check after the run.
            BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(6), (ushort)Opcode.Ping);
        }

        return result;
    }

    [Fact]
    public async Task Mutated_frames_never_crash_or_hang_the_server_and_it_keeps_serving_with_bounded_memory()
    {
        await using var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "2");
        var address = await server.WaitForAddressAsync();
        var endpoint = IPEndPoint.Parse(address[..address.IndexOf('/', StringComparison.Ordinal)]);
        await using (var setup = new LustreClient(address))
        {
            await setup.CreateDirectoryAsync("/fz");
        }

        var seeds = Seeds();
        long sent = 0, replies = 0, connections = 0;
        var memory = new List<long>();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var perWorker = Inputs / Parallel;

        async Task WorkerAsync(int worker)
        {
            var mutator = new FrameMutator(Seed * 101 + worker);
            var done = 0;
            while (done < perWorker)
            {
                var frames = Math.Min(FramesPerConnection, perWorker - done);
                var handshake = mutator.Next(10) != 0;
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                await socket.ConnectAsync(endpoint, timeout.Token);
                var xid = ((ulong)(uint)worker << 40) | (uint)done;
                var payload = new List<byte>();
                if (handshake)
                {
                    payload.AddRange(ConnectFrame(xid));
                }

                for (var f = 0; f < frames; f++)
                {
                    payload.AddRange(MutateFrame(mutator, seeds[mutator.Next(seeds.Length)], seeds[mutator.Next(seeds.Length)], xid + 1 + (ulong)f));
                }

                try
                {
                    await socket.SendAsync(payload.ToArray(), SocketFlags.None, timeout.Token);
                    socket.Shutdown(SocketShutdown.Send);
                }
                catch (SocketException)
                {
                    // The server closed early (a bad header): allowed.
                }

                Interlocked.Add(ref replies, await ReadRepliesUntilClosedAsync(socket, timeout.Token));
                Interlocked.Add(ref sent, frames);
                Interlocked.Increment(ref connections);
                done += frames;
            }
        }

        async Task WatchAsync(Task all)
        {
            while (!all.IsCompleted)
            {
                Assert.False(server.HasExited, $"the server exited:\n{server.Output}");
                memory.Add(server.ResidentBytes());
                await Task.WhenAny(all, Task.Delay(1000));
            }
        }

        var work = Task.WhenAll(Enumerable.Range(0, Parallel).Select(WorkerAsync));
        await WatchAsync(work);
        await work;

        Assert.False(server.HasExited, $"the server exited:\n{server.Output}");
        await using (var client = new LustreClient(address))
        {
            await using (var file = await client.OpenFileAsync("/after-fuzz", FileMode.CreateNew))
            {
                await file.WriteAtAsync(0, new byte[100_000]);
            }

            Assert.Equal(100_000, (await client.GetInfoAsync("/after-fuzz")).Length);
        }

        var warm = memory.Count > 4 ? memory[memory.Count / 4] : memory.FirstOrDefault();
        var peak = memory.Count == 0 ? 0 : memory.Max();
        output.WriteLine($"{sent} mutated frames on {connections} connections in {started.Elapsed.TotalSeconds:0.0} s, {replies} replies, seed {Seed}; server RSS {warm >> 20} MiB after warm-up, peak {peak >> 20} MiB, last {memory.LastOrDefault() >> 20} MiB");
        output.WriteLine($"server RSS (MiB) per second: {string.Join(" ", memory.Select(m => (m >> 20).ToString(CultureInfo.InvariantCulture)))}");
        Assert.Equal(Inputs / Parallel * Parallel, sent);
        Assert.True(peak < 1L << 30, $"server RSS peaked at {peak >> 20} MiB");
        Assert.Equal(0, await server.TerminateAsync());
    }

    /// <summary>Reads reply frames until the server closes; each must be a well-formed reply. Returns how many came.</summary>
    private static async Task<long> ReadRepliesUntilClosedAsync(Socket socket, CancellationToken timeout)
    {
        var buffer = new byte[64 * 1024];
        var pending = new List<byte>();
        long replies = 0;
        while (true)
        {
            int read;
            try
            {
                read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout);
            }
            catch (SocketException)
            {
                return replies; // reset: a close
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException("the server neither answered nor closed the connection within 20 s");
            }

            if (read == 0)
            {
                Assert.Empty(pending); // the server never stops halfway through a reply
                return replies;
            }

            pending.AddRange(buffer.AsSpan(0, read));
            while (pending.Count >= FrameHeader.Size)
            {
                var error = FrameHeader.TryRead(pending.ToArray(), ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header);
                Assert.Equal(FrameError.None, error);
                Assert.True(header.IsReply);
                var total = FrameHeader.Size + header.BodyLength + header.BulkLength;
                if (pending.Count < total)
                {
                    break;
                }

                pending.RemoveRange(0, total);
                replies++;
            }
        }
    }
}
