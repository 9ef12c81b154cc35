using BenchmarkDotNet.Attributes;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Server.Cluster;

namespace Lustre.Benchmarks;

/// <summary>
/// <see cref="LustreStream"/>'s synchronous <c>Read</c> (which blocks on the async path) against <c>ReadAsync</c>: one
/// sequential pass over a 32 MiB file striped over 2 OSTs of an in-process cluster, in reads of <see cref="BufferSize"/>
/// bytes. The difference is the price of the synchronous shape: a blocked thread plus a Task per call that does not
/// complete at once. <c>dotnet run -c Release --project benchmarks/Lustre.Benchmarks -- --filter *StreamSyncAsync*</c>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 10)]
public class StreamSyncAsyncBenchmarks
{
    private const int FileSize = 32 << 20;
    private LustreCluster? _cluster;
    private LustreClient? _client;
    private LustreStream? _stream;
    private byte[] _buffer = [];

    [Params(4096, 1 << 20)]
    public int BufferSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cluster = LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 }).GetAwaiter().GetResult();
        _client = new LustreClient(_cluster.Address);
        var data = new byte[FileSize];
        Random.Shared.NextBytes(data);
        using (var writer = _client.OpenStreamAsync("/f", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(1 << 20, 2)).GetAwaiter().GetResult())
        {
            writer.Write(data);
        }

        _stream = _client.OpenStreamAsync("/f", FileMode.Open, FileAccess.Read).GetAwaiter().GetResult();
        _buffer = new byte[BufferSize];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stream!.Dispose();
        _client!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _cluster!.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public async Task<long> ReadAsync()
    {
        _stream!.Position = 0;
        long total = 0;
        int read;
        while ((read = await _stream.ReadAsync(_buffer)) > 0)
        {
            total += read;
        }

        return total;
    }

    [Benchmark]
    public long Read()
    {
        _stream!.Position = 0;
        long total = 0;
        int read;
        while ((read = _stream.Read(_buffer, 0, _buffer.Length)) > 0)
        {
            total += read;
        }

        return total;
    }
}
