using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Lustre.Server.Oss;

/// <summary>
/// Chooses how this machine's OSTs send large cached reads (<see cref="CachedReadMode.Auto"/>). Each way won by about
/// a fifth on a different day on VMs of the same kind (a mapping on 2026-11-26 and 2026-12-05, a copy on 2026-12-04:
/// docs/benchmarks.md), so the machine is asked: a throwaway object store under the data directory holds 16 MiB,
/// and the two ways send it, alternating, over a loopback connection that a thread drains, as the OSS sends a read
/// (<see cref="ObjectStore.ReadAsync(ulong, long, Memory{byte}, CancellationToken)"/> into a buffer, or <see cref="ObjectStore.ReadRegionAsync(ulong, long, int)"/>). The fastest
/// round of each is compared, so a round slowed by the machine's other work counts for nothing. About 60 ms, once
/// per process; anything that fails on the way (no room, no loopback, no mapping) chooses the copy.
/// </summary>
internal static class CachedReadProbe
{
    private const int Piece = 4 << 20;
    private const int Pieces = 4;

    // Rounds of each way; the first of each warms up and is not counted.
    private const int Rounds = 5;

    // The mapping is chosen only when its best round is at least this much faster than the copy's.
    private const double MapMargin = 0.9;

    private static readonly Lock Gate = new();
    private static CachedReadMode? _measured;

    /// <summary>The mode asked for, or for <see cref="CachedReadMode.Auto"/> this process's measurement (made on the first call) under <paramref name="dataDirectory"/>.</summary>
    public static CachedReadMode Resolve(CachedReadMode mode, string dataDirectory)
    {
        if (mode != CachedReadMode.Auto)
        {
            return mode;
        }

        lock (Gate)
        {
            _measured ??= Measure(dataDirectory).Mode;
            return _measured.Value;
        }
    }

    /// <summary>Measures both ways under <paramref name="dataDirectory"/> (and removes what it wrote); the chosen mode and each way's best round in seconds (infinity where not measured).</summary>
    internal static (CachedReadMode Mode, double CopySeconds, double MapSeconds) Measure(string dataDirectory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return (CachedReadMode.Copy, double.PositiveInfinity, double.PositiveInfinity);
        }

        var root = Path.Combine(dataDirectory, $".cached-read-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using var store = new ObjectStore(0, root);
            var buffer = new byte[Piece];
            for (var i = 0; i < buffer.Length; i++)
            {
                buffer[i] = (byte)(i * 31);
            }

            for (var p = 0; p < Pieces; p++)
            {
                store.WriteAsync(1, (long)p * Piece, buffer, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }

            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            sender.Connect(listener.LocalEndPoint!);
            using var receiver = listener.Accept();
            var drain = new Thread(() =>
            {
                var sink = new byte[1 << 20];
                try
                {
                    while (receiver.Receive(sink) > 0)
                    {
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // The probe failed and closed the connection under it.
                }
            }) { IsBackground = true, Name = "Lustre cached-read probe" };
            drain.Start();

            var best = new[] { double.PositiveInfinity, double.PositiveInfinity };
            for (var round = 0; round < 2 * Rounds; round++)
            {
                var map = round % 2 == 1;
                var started = Stopwatch.GetTimestamp();
                for (var p = 0; p < Pieces; p++)
                {
                    if (map)
                    {
                        using var region = store.ReadRegionAsync(1, (long)p * Piece, Piece).AsTask().GetAwaiter().GetResult()
                            ?? throw new IOException("the probe's object read back empty");
                        SendAll(sender, region.Memory.Span);
                    }
                    else
                    {
                        var read = store.ReadAsync(1, (long)p * Piece, buffer, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                        SendAll(sender, buffer.AsSpan(0, read));
                    }
                }

                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                if (round >= 2)
                {
                    best[map ? 1 : 0] = Math.Min(best[map ? 1 : 0], seconds);
                }
            }

            sender.Shutdown(SocketShutdown.Both);
            drain.Join(TimeSpan.FromSeconds(5));
            var mode = best[1] < best[0] * MapMargin ? CachedReadMode.Map : CachedReadMode.Copy;
            return (mode, best[0], best[1]);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Whatever went wrong (no room, no loopback, no mapping), a server must still start: with the copy.
            return (CachedReadMode.Copy, double.PositiveInfinity, double.PositiveInfinity);
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            bytes = bytes[socket.Send(bytes)..];
        }
    }
}
