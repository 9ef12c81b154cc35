using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary><see cref="CachedReadMode.Auto"/>: the machine is asked how it sends cached reads faster, and nothing of the asking stays behind.</summary>
public sealed class CachedReadProbeTests : IDisposable
{
    private readonly TempFolder _root = new("lustre-probe-");

    public void Dispose() => _root.Dispose();

    [Fact]
    public void The_probe_times_both_ways_chooses_the_map_only_when_it_wins_by_a_tenth_and_removes_its_object_store()
    {
        var (mode, copy, map) = CachedReadProbe.Measure(_root.Path);

        Assert.True(OperatingSystem.IsLinux(), "the probe measures on Linux only; elsewhere it chooses the copy without measuring");
        Assert.InRange(copy, 1e-6, 10);
        Assert.InRange(map, 1e-6, 10);
        Assert.Equal(map < copy * 0.9 ? CachedReadMode.Map : CachedReadMode.Copy, mode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root.Path));
    }

    [Fact]
    public void A_mode_asked_for_is_kept_without_measuring_and_auto_is_measured_once_per_process()
    {
        var nowhere = Path.Combine(_root.Path, "not-created");

        Assert.Equal(CachedReadMode.Copy, CachedReadProbe.Resolve(CachedReadMode.Copy, nowhere));
        Assert.Equal(CachedReadMode.Map, CachedReadProbe.Resolve(CachedReadMode.Map, nowhere));
        Assert.False(Directory.Exists(nowhere));

        var first = CachedReadProbe.Resolve(CachedReadMode.Auto, _root.Path);
        Assert.Contains(first, new[] { CachedReadMode.Copy, CachedReadMode.Map });
        Assert.Equal(first, CachedReadProbe.Resolve(CachedReadMode.Auto, nowhere));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root.Path));
    }

    [Fact]
    public void A_data_directory_the_probe_cannot_write_chooses_the_copy()
    {
        // A path under a regular file cannot be a directory: the probe's store fails to start, and the copy is chosen.
        var file = Path.Combine(_root.Path, "a-file");
        File.WriteAllBytes(file, [1]);

        var (mode, copy, map) = CachedReadProbe.Measure(file);

        Assert.Equal(CachedReadMode.Copy, mode);
        Assert.Equal(double.PositiveInfinity, copy);
        Assert.Equal(double.PositiveInfinity, map);
    }
}
