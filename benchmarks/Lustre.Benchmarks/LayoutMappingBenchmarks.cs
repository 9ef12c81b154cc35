using BenchmarkDotNet.Attributes;
using Lustre.Layouts;

namespace Lustre.Benchmarks;

/// <summary>
/// The cost of cutting a file range into per-object pieces (<see cref="StripeMath.MapRange"/>), which runs on every
/// read and write: a 4 KiB read inside one stripe, a 128 MiB read over a 4-OST RAID0 file, and a range across the
/// components of a three-component PFL layout. Must not allocate beyond the caller's reused list.
/// </summary>
[MemoryDiagnoser]
public class LayoutMappingBenchmarks
{
    private readonly List<StripeExtent> _extents = new(256);
    private FileLayout _raid0 = null!;
    private FileLayout _pfl = null!;

    [GlobalSetup]
    public void Setup()
    {
        var objects = Enumerable.Range(0, 4).Select(i => new OstObject(i, (ulong)(i + 1))).ToArray();
        _raid0 = FileLayout.Raid0(4 << 20, 4).WithComponents([new LayoutComponent(0, LayoutComponent.Eof, 4 << 20, 4, 0, objects)]);
        _pfl = FileLayout.Composite([
            new LayoutComponent(0, 4 << 20, 1 << 20, 1, 0, [new OstObject(0, 10)]),
            new LayoutComponent(4 << 20, 1L << 30, 1 << 20, 4, 0, objects),
            new LayoutComponent(1L << 30, LayoutComponent.Eof, 4 << 20, 4, 0, [.. objects.Select(o => o with { ObjectId = o.ObjectId + 100 })]),
        ]);
    }

    [Benchmark]
    public int Small_read_in_one_stripe()
    {
        _extents.Clear();
        StripeMath.MapRange(_raid0, (123L << 20) + 8192, 4096, _extents);
        return _extents.Count;
    }

    [Benchmark]
    public int Large_read_over_four_OSTs()
    {
        _extents.Clear();
        StripeMath.MapRange(_raid0, 1L << 30, 128L << 20, _extents);
        return _extents.Count;
    }

    [Benchmark]
    public int Range_across_PFL_components()
    {
        _extents.Clear();
        StripeMath.MapRange(_pfl, 2L << 20, (1L << 30) + (16L << 20), _extents);
        return _extents.Count;
    }
}
