using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Benchmarks.Striped;

/// <summary>
/// Our side of the benchmark, through the public positional API: a sequential write ending in a durable flush,
/// a sequential read, and 4 KiB reads at random aligned offsets from many tasks.
/// </summary>
internal sealed class StripedWorkload(LustreClient client, TestPattern pattern, StripedSettings settings, byte[][] buffers)
{
    public async Task<PhaseResult> WriteAsync(string path)
    {
        if (settings.Stream)
        {
            return await StreamWriteAsync(path);
        }

        var layout = FileLayout.Raid0(settings.StripeSize, stripeCount: -1);
        var meter = new PhaseMeter();
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        var inFlight = new Queue<(Task Call, byte[] Buffer)>();
        var next = 0;
        for (long offset = 0; offset < settings.Size; offset += settings.ChunkSize)
        {
            var buffer = inFlight.Count < settings.Depth ? buffers[next++] : await Dequeue(inFlight);
            var length = (int)Math.Min(settings.ChunkSize, settings.Size - offset);
            pattern.Stamp(buffer.AsSpan(0, length), offset);
            inFlight.Enqueue((file.WriteAtAsync(offset, buffer.AsMemory(0, length)).AsTask(), buffer));
        }

        while (inFlight.Count > 0)
        {
            await Dequeue(inFlight);
        }

        await file.FlushAsync();
        return PhaseMeter.Bytes("ours: sequential write + FlushAsync", settings.Size, meter.Stop());
    }

    public async Task<PhaseResult> ReadAsync(string path)
    {
        if (settings.Stream)
        {
            return await StreamReadAsync(path);
        }

        var meter = new PhaseMeter();
        await using var file = await client.OpenFileAsync(path);
        var inFlight = new Queue<(Task Call, byte[] Buffer)>();
        var next = 0;
        for (long offset = 0; offset < settings.Size; offset += settings.ChunkSize)
        {
            var buffer = inFlight.Count < settings.Depth ? buffers[next++] : await Dequeue(inFlight);
            var length = (int)Math.Min(settings.ChunkSize, settings.Size - offset);
            inFlight.Enqueue((ReadExactlyAsync(file, offset, buffer.AsMemory(0, length)), buffer));
        }

        while (inFlight.Count > 0)
        {
            await Dequeue(inFlight);
        }

        return PhaseMeter.Bytes("ours: sequential read (after write: OSS page cache)", settings.Size, meter.Stop());
    }

    private async Task<PhaseResult> StreamWriteAsync(string path)
    {
        var layout = FileLayout.Raid0(settings.StripeSize, stripeCount: -1);
        var buffer = buffers[0];
        var meter = new PhaseMeter();
        await using (var stream = await client.OpenStreamAsync(path, FileMode.CreateNew, FileAccess.Write, layout))
        {
            for (long offset = 0; offset < settings.Size; offset += settings.ChunkSize)
            {
                var length = (int)Math.Min(settings.ChunkSize, settings.Size - offset);
                pattern.Stamp(buffer.AsSpan(0, length), offset);
                await stream.WriteAsync(buffer.AsMemory(0, length));
            }

            await stream.FlushAsync();
        }

        return PhaseMeter.Bytes("ours: LustreStream sequential write + FlushAsync", settings.Size, meter.Stop());
    }

    private async Task<PhaseResult> StreamReadAsync(string path)
    {
        var buffer = buffers[0];
        var meter = new PhaseMeter();
        long total = 0;
        await using (var stream = await client.OpenStreamAsync(path, FileMode.Open, FileAccess.Read))
        {
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(0, settings.ChunkSize))) > 0)
            {
                total += read;
            }
        }

        if (total != settings.Size)
        {
            throw new IOException($"{path}: the stream read {total} bytes, the file has {settings.Size}.");
        }

        return PhaseMeter.Bytes("ours: LustreStream sequential read (after write: OSS page cache)", settings.Size, meter.Stop());
    }

    /// <summary>Reads the whole file again, one call at a time, and checks every byte. Not timed.</summary>
    public async Task<bool> VerifyAsync(string path)
    {
        await using var file = await client.OpenFileAsync(path);
        if (file.Length != settings.Size)
        {
            Console.Error.WriteLine($"verify: {path} is {file.Length} bytes, wrote {settings.Size}");
            return false;
        }

        var buffer = buffers[0];
        for (long offset = 0; offset < settings.Size; offset += settings.ChunkSize)
        {
            var length = (int)Math.Min(settings.ChunkSize, settings.Size - offset);
            await ReadExactlyAsync(file, offset, buffer.AsMemory(0, length));
            if (!pattern.Verify(buffer.AsSpan(0, length), offset))
            {
                Console.Error.WriteLine($"verify: {path} differs from what was written in the {length} bytes at {offset}");
                return false;
            }
        }

        return true;
    }

    /// <summary>4 KiB reads at random page-aligned offsets from <see cref="StripedSettings.RandomTasks"/> tasks; every read is checked.</summary>
    public async Task<(PhaseResult Result, long Mismatches)> RandomReadAsync(string path)
    {
        await using var file = await client.OpenFileAsync(path);
        return await RandomPagesAsync(
            $"ours: 4 KiB ReadAtAsync, random offsets, {settings.RandomTasks} tasks",
            async (offset, buffer) => await file.ReadAtAsync(offset, buffer) == buffer.Length);
    }

    /// <summary>
    /// The same random 4 KiB reads sent as bare OstRead RPCs through the client's target layer (no LustreFile, no striping
    /// layer): splits the cost of a small read between the I/O layer and the engine plus the server.
    /// </summary>
    public async Task<(PhaseResult Result, long Mismatches)> RawRpcReadAsync(string path)
    {
        await using var file = await client.OpenFileAsync(path);
        var component = file.Layout.Components[0];
        return await RandomPagesAsync(
            $"diagnostic: bare 4 KiB OstRead RPCs, {settings.RandomTasks} tasks",
            async (offset, buffer) =>
            {
                var unit = offset / component.StripeSize;
                var obj = component.Objects[(int)(unit % component.StripeCount)];
                var objectOffset = (unit / component.StripeCount * component.StripeSize) + (offset % component.StripeSize);
                using var frame = FrameBuffer.Rent();
                new OstReadRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), objectOffset, buffer.Length).Write(frame.Body);
                using var reply = await client.Session.Targets.CallAsync(TargetKind.Ost, obj.OstIndex, Opcode.OstRead, frame, default, buffer, default);
                return reply.Status == 0 && reply.BulkLength == buffer.Length;
            });
    }

    /// <summary>
    /// Runs <see cref="StripedSettings.RandomTasks"/> tasks that each read random 4 KiB pages with <paramref name="readPage"/>
    /// (true when the whole page arrived) and check their content; measures after a warm-up for a fixed time.
    /// </summary>
    private async Task<(PhaseResult Result, long Mismatches)> RandomPagesAsync(string name, Func<long, byte[], Task<bool>> readPage)
    {
        var pages = settings.Size / TestPattern.PageSize;
        long completed = 0;
        long mismatches = 0;
        using var stop = new CancellationTokenSource();
        var tasks = new Task[settings.RandomTasks];
        for (var t = 0; t < tasks.Length; t++)
        {
            var seed = t;
            tasks[t] = Task.Run(async () =>
            {
                var random = new Random(seed);
                var buffer = new byte[TestPattern.PageSize];
                while (!stop.IsCancellationRequested)
                {
                    var offset = random.NextInt64(pages) * TestPattern.PageSize;
                    if (!await readPage(offset, buffer) || !pattern.Verify(buffer, offset))
                    {
                        Interlocked.Increment(ref mismatches);
                    }

                    Interlocked.Increment(ref completed);
                }
            });
        }

        await Task.Delay(settings.Warmup);
        var meter = new PhaseMeter();
        var before = Interlocked.Read(ref completed);
        await Task.Delay(settings.RandomDuration);
        var after = Interlocked.Read(ref completed);
        var cost = meter.Stop();
        await stop.CancelAsync();
        await Task.WhenAll(tasks);
        return (PhaseMeter.Operations(name, after - before, cost), Interlocked.Read(ref mismatches));
    }

    private static async Task<byte[]> Dequeue(Queue<(Task Call, byte[] Buffer)> inFlight)
    {
        var (call, buffer) = inFlight.Dequeue();
        await call;
        return buffer;
    }

    private static async Task ReadExactlyAsync(LustreFile file, long offset, Memory<byte> buffer)
    {
        var read = await file.ReadAtAsync(offset, buffer);
        if (read != buffer.Length)
        {
            throw new IOException($"{file.Path}: {read} bytes at {offset}, expected {buffer.Length}.");
        }
    }
}
