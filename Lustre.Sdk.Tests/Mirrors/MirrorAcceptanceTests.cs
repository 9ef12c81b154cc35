using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Layouts;
using Lustre.Tests.Checkpoints;
using Lustre.Tests.Cli;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Mirrors.MirrorFiles;

namespace Lustre.Tests.Mirrors;

/// <summary>
/// Issue 20's acceptance: with every file mirrored twice (<c>-N2</c>) on a cluster of separate OSS processes, one OSS
/// is killed with SIGKILL in the middle of a dataset epoch, a checkpoint save, and a large copy in; each finishes
/// without an error and byte-identical. When the OSS comes back, a resync of every file makes all mirrors identical
/// (verify) and clears every stale flag.
/// </summary>
public sealed class MirrorAcceptanceTests : IDisposable
{
    private const int OssCount = 3;
    private readonly TempFolder _data = new("lustre-flr-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task A_dataset_epoch_completes_byte_identical_when_an_oss_is_killed_during_it()
    {
        await using var cluster = await StartMirroredAsync();
        await using var client = new LustreClient(cluster.Address);
        const int samples = 600;
        await using (var writer = await DatasetWriter.CreateAsync(client, "/data", new DatasetWriterOptions { TargetShardSize = 1 << 20, Layout = null }))
        {
            for (var i = 0; i < samples; i++)
            {
                await writer.WriteAsync(Key(i), [new DatasetField("x", RandomBytes(8 << 10, i))]);
            }

            await writer.CompleteAsync();
            Assert.True(writer.Shards.Count >= 4);
        }

        // Reads after the kill must have gone to the dead OSS first for some shards, and moved to the other mirror.
        long failovers = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "lustre.client.mirror.failovers")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref failovers, value));
        listener.Start();

        // The OSS of the first shard's second mirror: the later shards' reads must go through it.
        var victim = (await client.GetInfoAsync("/data/shard-00000.lds")).Layout!.Mirrors[1].Layout.Components[0].Objects[0].OstIndex;
        var seen = new HashSet<long>();
        await using (var dataset = await LustreDataset.OpenAsync(client, "/data", new LustreDatasetOptions { Rank = 0, WorldSize = 1, Seed = 5, PrefetchWindow = 4, PrefetchBudget = 256 << 10 }))
        {
            await foreach (var sample in dataset.ReadAsync())
            {
                using (sample)
                {
                    Assert.Equal(RandomBytes(8 << 10, (int)sample.Index), sample["x"].ToArray());
                    Assert.Equal(Key(sample.Index), sample.Key);
                    Assert.True(seen.Add(sample.Index));
                }

                if (seen.Count == samples / 4)
                {
                    await cluster.KillOssAsync(victim);
                }
            }
        }

        Assert.Equal(samples, seen.Count);
        Assert.True(Interlocked.Read(ref failovers) > 0, "no read failed over to another mirror");

        // Reads do not make a mirror stale: the resync has nothing to copy, and the mirrors still agree.
        await ReturnAndResyncAsync(cluster, client, victim, expectStale: false);
    }

    [Fact]
    public async Task A_checkpoint_commits_when_an_oss_is_killed_during_the_save_and_loads_after()
    {
        await using var cluster = await StartMirroredAsync();
        await using var client = new LustreClient(cluster.Address);
        var options = CheckpointTestData.SmallOptions();
        options.MirrorCount = 2;
        await using var manager = new CheckpointManager(client, "/ckpt", options);
        var tensors = CheckpointTestData.Mixed(seed: 3);

        var save = await manager.SaveAsync(7, tensors);
        await cluster.KillOssAsync(2);
        await save.WaitForCompletionAsync().WaitAsync(CheckpointTestData.TestTimeout);
        Assert.Equal(CheckpointSaveStatus.Committed, save.Status);

        using (var loaded = await manager.LoadAsync(7))
        {
            CheckpointTestData.AssertSame(tensors, loaded);
        }

        await ReturnAndResyncAsync(cluster, client, 2);
        using var again = await manager.LoadAsync(7);
        CheckpointTestData.AssertSame(tensors, again);
    }

    [Fact]
    public async Task A_large_copy_in_exits_0_when_an_oss_is_killed_during_it()
    {
        await using var cluster = await StartMirroredAsync();
        await using var client = new LustreClient(cluster.Address);
        var content = RandomBytes(192 << 20, 9);

        // cp reads the bytes from a pipe the test feeds, so the OSS dies between two known parts of the copy. (Waiting
        // for the file to show 16 MiB raced the copy: on a fast disk the 192 MiB took under 0.6 s, a stat of the file
        // glimpses the busy OSTs, and the kill often landed after the last write, leaving nothing stale.)
        var fifo = Path.Combine(_data.Path, "big.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var copy = CliProcess.RunInShellAsync("exec \"$0\" \"$1\" cp - lustre:/big.bin --mgs \"$2\" < \"$3\"", cluster.Address, fifo);
        const int BeforeKill = 32 << 20;
        int victim;
        // Opening a pipe's write end waits for its reader (the shell's redirection): bounded, should the shell never start.
        await using (var feed = await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.Read, 1)).WaitAsync(CliProcess.Timeout))
        {
            await feed.WriteAsync(content.AsMemory(0, BeforeKill));
            victim = (await client.GetInfoAsync("/big.bin")).Layout!.Mirrors[1].Layout.Components[0].Objects[0].OstIndex;
            await cluster.KillOssAsync(victim);
            await feed.WriteAsync(content.AsMemory(BeforeKill));
        }

        var result = await copy;
        Assert.True(result.ExitCode == 0, $"cp exited {result.ExitCode}: {result.Error}");

        var layout = (await client.GetInfoAsync("/big.bin")).Layout!;
        Assert.True(layout.Mirrors[1].IsStale, $"OST {victim} was killed during the copy, yet: {string.Join(", ", layout.Mirrors.Select(m => $"mirror {m.Id} stale {m.IsStale}"))}; {result.Output}");
        Assert.Equal(content, await ReadAsync(client, "/big.bin"));
        await ReturnAndResyncAsync(cluster, client, victim);
    }

    /// <summary>A cluster whose root default layout mirrors every new file twice, one stripe per mirror.</summary>
    private async Task<ProcessCluster> StartMirroredAsync()
    {
        var cluster = await ProcessCluster.StartAsync(_data.Path, OssCount);
        await using var client = new LustreClient(cluster.Address);
        await client.SetDirectoryLayoutAsync("/", FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));
        return cluster;
    }

    /// <summary>
    /// Counts the stale mirrors the kill left, brings the OSS back, resyncs every file (this client, or the MDS's agent
    /// first), and checks every file's mirrors are identical and none is stale.
    /// </summary>
    private static async Task ReturnAndResyncAsync(ProcessCluster cluster, LustreClient client, int oss, bool expectStale = true)
    {
        var files = await FilesAsync(client, "/");
        Assert.NotEmpty(files);
        var stale = 0;
        foreach (var path in files)
        {
            stale += (await client.GetInfoAsync(path)).Layout!.Mirrors.Count(m => m.IsStale);
        }

        await cluster.RestartOssAsync(oss, samePort: true);
        foreach (var path in files)
        {
            await client.ResyncMirrorsAsync(path);
            var verify = await client.VerifyMirrorsAsync(path);
            Assert.True(verify.IsConsistent, $"{path}: {string.Join("; ", verify.Differences)}");
            var layout = (await client.GetInfoAsync(path)).Layout!;
            Assert.Equal(2, layout.Mirrors.Count);
            Assert.All(layout.Mirrors, m => Assert.False(m.IsStale, $"{path} mirror {m.Id} is still stale"));
            Assert.Equal([1, 2], verify.MirrorsCompared);
        }

        // A kill during writes must have cost some file a mirror, or the test proved nothing.
        Assert.Equal(expectStale, stale > 0);
    }

    private static async Task<List<string>> FilesAsync(LustreClient client, string directory)
    {
        var files = new List<string>();
        await foreach (var entry in client.EnumerateDirectoryAsync(directory))
        {
            if (entry.IsDirectory)
            {
                files.AddRange(await FilesAsync(client, entry.Path));
            }
            else
            {
                files.Add(entry.Path);
            }
        }

        return files;
    }

    private static string Key(long i) => "k" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
