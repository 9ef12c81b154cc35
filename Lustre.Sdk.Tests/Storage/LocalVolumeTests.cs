using System.Globalization;
using Lustre.Client;
using Lustre.Server.Storage;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Storage;

/// <summary>
/// The local filesystem facts behind <c>lfs df -i</c> and its state letters, on a tmpfs of the test's own with a known
/// inode count (root on Linux, as the CI machine runs, like the full-MDT tests).
/// </summary>
public sealed class LocalVolumeTests : IAsyncLifetime
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "lustre-volume-" + Guid.NewGuid().ToString("N"));
    private bool _mounted;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_mount);
        Assert.True(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "the volume tests mount a tmpfs: run them as root on Linux");
        var (exit, output) = await NetnsNetwork.RunAsync("mount", ["-t", "tmpfs", "-o", "size=1m,nr_inodes=200", "tmpfs", _mount]);
        _mounted = exit == 0;
        Assert.True(_mounted, $"mount tmpfs: {output}");
    }

    public async Task DisposeAsync()
    {
        if (_mounted)
        {
            await NetnsNetwork.RunAsync("umount", ["-l", _mount]);
        }

        Directory.Delete(_mount, recursive: true);
    }

    [Fact]
    public async Task Free_inodes_are_the_filesystems_and_a_read_only_mount_is_reported()
    {
        var (free, state) = LocalVolume.Probe(_mount);
        Assert.Equal(await FreeFileNodesAsync(), free);
        Assert.InRange(free!.Value, 150, 200);
        Assert.Equal(LustreTargetState.None, state);

        for (var i = 0; i < 10; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(_mount, $"f{i}"), "x");
        }

        Assert.Equal(free - 10, LocalVolume.Probe(_mount).FreeInodes);

        var (exit, output) = await NetnsNetwork.RunAsync("mount", ["-o", "remount,ro", _mount]);
        Assert.True(exit == 0, $"remount ro: {output}");
        Assert.Equal(LustreTargetState.ReadOnly, LocalVolume.Probe(_mount).State);
    }

    /// <summary>stat -f's free file nodes of the mount (f_ffree, which is f_favail on tmpfs).</summary>
    private async Task<long> FreeFileNodesAsync()
    {
        var (exit, output) = await NetnsNetwork.RunAsync("stat", ["-f", "-c", "%d", _mount]);
        Assert.True(exit == 0, output);
        return long.Parse(output.Trim(), CultureInfo.InvariantCulture);
    }
}
