using System.Text;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Server.Cluster;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Logging;

namespace Lustre.Tests.Mds;

/// <summary>
/// An MDT whose filesystem fills up: a small tmpfs of its own holds the cluster's data, a file fills what is left.
/// Changes must then fail with ENOSPC naming the MDT, not with an I/O error, and reads go on.
/// </summary>
public sealed class FullMdtTests : IAsyncLifetime
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "lustre-fullmdt-" + Guid.NewGuid().ToString("N"));
    private bool _mounted;

    /// <summary>The tmpfs of this test: 64 MiB.</summary>
    public string Root => _mount;

    public async Task InitializeAsync()
    {
        // A filesystem of its own to fill needs a tmpfs mount, so root on Linux (as the CI machine runs); elsewhere
        // the test fails and says why rather than being skipped.
        Directory.CreateDirectory(_mount);
        Assert.True(OperatingSystem.IsLinux() && Environment.IsPrivilegedProcess, "the full-MDT tests mount a 64 MiB tmpfs: run them as root on Linux");
        var (exit, output) = await NetnsNetwork.RunAsync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", _mount]);
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
    public async Task Changes_on_a_full_MDT_fail_with_ENOSPC_and_reads_go_on()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, DataDirectory = Path.Combine(_mount, "data") });
        await using var client = new LustreClient(cluster.Address);
        await client.CreateDirectoryAsync("/kept");

        // Fill the filesystem the MDT lives on.
        try
        {
            await using var filler = File.OpenWrite(Path.Combine(_mount, "filler"));
            var block = new byte[1 << 16];
            while (true)
            {
                filler.Write(block);
            }
        }
        catch (IOException)
        {
        }

        // Creates stop at the reserve; other changes go on until the log's preallocated room is used up too, then
        // every change fails with ENOSPC from RocksDB.
        var create = await Assert.ThrowsAsync<LustreServerException>(() => client.CreateDirectoryAsync("/new"));
        Assert.Equal(LustreErrno.ENOSPC, create.Errno);
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var made = 0;
        await Parallel.ForAsync(0, 400_000, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            if (failures.Count >= 3)
            {
                return;
            }

            try
            {
                await client.SetTimesAsync("/kept", null, DateTimeOffset.UnixEpoch.AddSeconds(i), ct);
                Interlocked.Increment(ref made);
            }
            catch (IOException ex)
            {
                failures.Add(ex);
            }
        });

        Assert.True(failures.Count >= 3, $"{made} changes made and no failure: the MDT never filled");
        Assert.All(failures, f =>
        {
            var server = Assert.IsType<LustreServerException>(f);
            Assert.Equal(LustreErrno.ENOSPC, server.Errno);
            Assert.Contains("MDT is full", server.Message, StringComparison.Ordinal);
            Assert.Contains("MDT0000", server.Target, StringComparison.Ordinal);
        });
        Assert.True((await client.GetInfoAsync("/kept")).IsDirectory);
    }
}

public sealed class MdtReserveTests : IAsyncLifetime
{
    private readonly FullMdtTests _mount = new();

    public Task InitializeAsync() => _mount.InitializeAsync();

    public Task DisposeAsync() => _mount.DisposeAsync();

    [Fact]
    public async Task Under_the_reserve_creates_get_ENOSPC_removals_go_on_and_creates_resume_by_themselves()
    {
        using var log = new Rpc.CapturingLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(log));
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, DataDirectory = Path.Combine(_mount.Root, "data"), LoggerFactory = loggers });
        await using var client = new LustreClient(cluster.Address);
        await client.CreateDirectoryAsync("/empty");
        for (var i = 0; i < 3; i++)
        {
            await client.CreateFileAsync($"/f{i}");
        }

        // Leave half the reserve free: under it, but with room for what removals write.
        var reserve = cluster.Node.Mdt!.ReserveBytes;
        var free = new DriveInfo(_mount.Root).AvailableFreeSpace;
        var filler = Path.Combine(_mount.Root, "filler");
        await using (var file = File.OpenWrite(filler))
        {
            file.SetLength(0);
            var block = new byte[1 << 20];
            for (long left = free - (reserve / 2); left > 0; left -= block.Length)
            {
                file.Write(block, 0, (int)Math.Min(block.Length, left));
            }
        }

        var mkdir = await Assert.ThrowsAsync<LustreServerException>(() => client.CreateDirectoryAsync("/new"));
        Assert.Equal(LustreErrno.ENOSPC, mkdir.Errno);
        Assert.Contains("kept for unlink, rmdir and rename", mkdir.Message, StringComparison.Ordinal);
        Assert.Equal(LustreErrno.ENOSPC, (await Assert.ThrowsAsync<LustreServerException>(() => client.CreateFileAsync("/g"))).Errno);

        // What frees space still works on a full MDT.
        await client.DeleteFileAsync("/f0");
        await client.DeleteDirectoryAsync("/empty");
        await client.RenameAsync("/f1", "/f2");
        Assert.False(await client.ExistsAsync("/f0"));
        Assert.False(await client.ExistsAsync("/f1"));
        Assert.True(await client.ExistsAsync("/f2"));

        // Space back: creates resume with no restart, and the log says both.
        File.Delete(filler);
        await client.CreateDirectoryAsync("/new");
        Assert.True((await client.GetInfoAsync("/new")).IsDirectory);
        Assert.Contains("under its reserve", log.Text, StringComparison.Ordinal);
        Assert.Contains("creates resume", log.Text, StringComparison.Ordinal);
    }
}
