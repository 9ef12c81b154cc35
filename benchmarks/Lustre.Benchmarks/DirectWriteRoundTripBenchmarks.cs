using BenchmarkDotNet.Attributes;
using Lustre.Server.Oss;

namespace Lustre.Benchmarks;

/// <summary>
/// A 1 MiB <c>OstWrite</c> round trip against an OST that writes it with O_DIRECT (<see cref="DirectWriter"/>), as
/// servers do by default: the production write path of a large bulk, which <see cref="RpcRoundTripBenchmarks"/> (an
/// OST writing through the page cache) does not take. Fewer calls per iteration than there, since each one goes to the
/// disk: 8,192 MiB an iteration keeps the few kilobytes a forced collection leaves behind under half a byte per call
/// (4,096 showed them as 1 B).
/// <c>dotnet run -c Release --project benchmarks/Lustre.Benchmarks -- --filter *DirectWriteRoundTrip*</c>
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Invocations)]
public class DirectWriteRoundTripBenchmarks
{
    private const int Invocations = 8192;

    private RoundTripRig? _rig;

    [Params(true, false)]
    public bool Checksums { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _rig = new RoundTripRig(1 << 20, Checksums, directWrites: true);
        if (_rig.Store.DirectWriteCount == 0)
        {
            // A filesystem that refuses O_DIRECT (tmpfs before Linux 6.6): this would measure the page cache.
            throw new InvalidOperationException($"the OST under {Path.GetTempPath()} wrote nothing with O_DIRECT; run this where the temporary folder is on a disk");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _rig!.Dispose();

    [Benchmark]
    public ValueTask<int> OstWrite() => _rig!.WriteAsync();
}
