using System.Globalization;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Lustre.Client;
using Lustre.Server.Cluster;
using Lustre.Threading;

namespace Lustre.Benchmarks;

/// <summary>
/// One metadata operation end to end through <see cref="LustreClient"/> against an embedded <see cref="LustreCluster"/>
/// (MGS, MDS, 2 OSTs) in this process, one call at a time: a stat (<see cref="LustreClient.GetInfoAsync(string, CancellationToken)"/>
/// of a file), a create and close of a new empty file (<see cref="LustreClient.OpenFileAsync"/> with
/// <see cref="FileMode.CreateNew"/>, then dispose), and an unlink (<see cref="LustreClient.DeleteFileAsync"/>). The
/// memory diagnoser's "Allocated" column is the whole process's allocation per operation: client, server sessions, MDS
/// and OSTs together (issue 22 item 3's targets: at most 1 KB per stat, 2 KB per create).
/// Every iteration runs <see cref="Operations"/> operations, so the files an iteration creates or unlinks are named
/// before it starts (their paths are not the operation's allocation) and the directory is emptied after it.
/// <c>dotnet run -c Release --project benchmarks/Lustre.Benchmarks -- --filter *Metadata* --inProcess --job short</c>
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Operations, 1)]
public class MetadataRpcBenchmarks
{
    private const int Operations = 2048;
    private const string Directory = "/metadata-bench";
    private const string StatPath = Directory + "/stat-target";

    private LustreCluster? _cluster;
    private LustreClient? _client;
    private string[] _paths = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _cluster = LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 }).GetAwaiter().GetResult();
        _client = new LustreClient(_cluster.Address);
        _client.CreateDirectoryAsync(Directory).GetAwaiter().GetResult();
        _client.CreateFileAsync(StatPath).GetAwaiter().GetResult();
        _paths = new string[Operations];
        for (var i = 0; i < _paths.Length; i++)
        {
            _paths[i] = string.Create(CultureInfo.InvariantCulture, $"{Directory}/file.{i:D6}");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _cluster!.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [IterationSetup(Target = nameof(CreateClose))]
    public void BeforeCreates() => _next = 0;

    [IterationCleanup(Target = nameof(CreateClose))]
    public void AfterCreates() => DeleteCreated();

    [IterationSetup(Target = nameof(Unlink))]
    public void BeforeUnlinks()
    {
        _next = 0;
        foreach (var path in _paths)
        {
            _client!.CreateFileAsync(path).GetAwaiter().GetResult();
        }
    }

    [IterationCleanup(Target = nameof(Unlink))]
    public void AfterUnlinks() => DeleteCreated();

    // Pooled builders: the benchmark's own async frame must not show up as the operation's allocation.
    [Benchmark]
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<long> Stat() => (await _client!.GetInfoAsync(StatPath).ConfigureAwait(false)).Length;

    [Benchmark]
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<long> CreateClose()
    {
        var file = await _client!.OpenFileAsync(_paths[_next++], FileMode.CreateNew, FileAccess.Write).ConfigureAwait(false);
        await file.DisposeAsync().ConfigureAwait(false);
        return file.Length;
    }

    [Benchmark]
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<int> Unlink()
    {
        await _client!.DeleteFileAsync(_paths[_next++]).ConfigureAwait(false);
        return _next;
    }

    /// <summary>
    /// Unlinks what the iteration left (every path it reached; a run stopped early leaves fewer), then destroys their
    /// OST objects at once: left to the MDS's background pass, those destroys ran inside the next iteration and were
    /// counted as its creates' allocation (~250 B per create).
    /// </summary>
    private void DeleteCreated()
    {
        for (var i = 0; i < _paths.Length; i++)
        {
            if (_client!.ExistsAsync(_paths[i]).GetAwaiter().GetResult())
            {
                _client.DeleteFileAsync(_paths[i]).GetAwaiter().GetResult();
            }
        }

        _cluster!.Node.Destroys!.RunOnceAsync(CancellationToken.None).GetAwaiter().GetResult();
    }
}
