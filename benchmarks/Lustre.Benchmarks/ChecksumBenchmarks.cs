using System.IO.Hashing;
using System.Numerics;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace Lustre.Benchmarks;

/// <summary>
/// Single-thread throughput of the bulk checksum candidates over bulk-sized buffers: 1 MiB, and 4 MiB
/// (Lustre's bulk RPC size). The GB/s column is the buffer size over the mean time.
/// </summary>
[Config(typeof(ThroughputConfig))]
public class ChecksumBenchmarks
{
    private byte[] _data = [];

    [Params(1 << 20, 4 << 20)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
    }

    /// <summary>What the protocol uses today (<c>BulkChecksum</c>).</summary>
    [Benchmark(Baseline = true)]
    public ulong Xxh3_64() => XxHash3.HashToUInt64(_data);

    [Benchmark]
    public ulong Xxh64() => XxHash64.HashToUInt64(_data);

    /// <summary>CRC-32 (IEEE 802.3, zlib's), vectorised with carry-less multiply in System.IO.Hashing.</summary>
    [Benchmark]
    public uint Crc32Ieee() => Crc32.HashToUInt32(_data);

    /// <summary>CRC-64 (ECMA-182).</summary>
    [Benchmark]
    public ulong Crc64Ecma() => Crc64.HashToUInt64(_data);

    /// <summary>CRC-32C (Castagnoli: iSCSI, ext4, Lustre's default) with the SSE4.2/ARMv8 instruction.</summary>
    [Benchmark]
    public uint Crc32C() => Crc32CHardware(_data);

    /// <summary>
    /// One dependent crc32 instruction per 8 bytes, the straightforward use of <see cref="BitOperations.Crc32C(uint, ulong)"/>.
    /// Interleaving three streams and combining them (as Intel's and Linux's crc32c do) would hide the latency.
    /// </summary>
    internal static uint Crc32CHardware(ReadOnlySpan<byte> data)
    {
        var crc = ~0u;
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (var word in words)
        {
            crc = BitOperations.Crc32C(crc, word);
        }

        foreach (var b in data[(words.Length * sizeof(ulong))..])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
