using System.Text;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Server.Cluster;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Mds;

/// <summary>
/// An MDT whose filesystem fills up: a small tmpfs of its own holds the cluster's data, a file fills what is left.
/// Changes must then fail with ENOSPC naming the MDT, not with an I/O error, and reads go on.
/// </summary>
public sealed class FullMdtTests : IAsyncLifetime
{
    private readonly string _mount = Path.Combine(Path.GetTempPath(), "lustre-fullmdt-" + Guid.NewGuid().ToString("N"));
    private bool _mounted;

    public async Task InitializeAsync()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            return;
        }

        Directory.CreateDirectory(_mount);
        var (exit, output) = await NetnsNetwork.RunAsync("mount", ["-t", "tmpfs", "-o", "size=48m", "tmpfs", _mount]);
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

    [FullMdtFact]
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

        // The log has room preallocated: changes go on until it is used up, then every one fails.
        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        var made = 0;
        var name = new string('x', 240);
        await Parallel.ForAsync(0, 200_000, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            if (failures.Count >= 3)
            {
                return;
            }

            try
            {
                await client.CreateDirectoryAsync($"/kept/{name}{i}", ct);
                Interlocked.Increment(ref made);
            }
            catch (IOException ex)
            {
                failures.Add(ex);
            }
        });

        Assert.True(failures.Count >= 3, $"{made} directories made and no failure: the MDT never filled");
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

/// <summary>A fact that runs where this process may mount a tmpfs (root on Linux), and says why it is skipped elsewhere.</summary>
internal sealed class FullMdtFactAttribute : FactAttribute
{
    public FullMdtFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess)
        {
            Skip = "Skipped: filling a filesystem of its own needs root on Linux (mount -t tmpfs).";
        }
    }
}
