using Lustre.Checkpoints;
using Lustre.Dataset;
using Lustre.Distributed;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Distributed;

/// <summary>
/// The launchers' variables through the real process environment, into a dataset and a checkpoint manager. In the
/// cluster collection, whose tests run one at a time, and every test outside it that reads rank or world size sets them
/// explicitly, so the variables set here for a moment are seen by no other test.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LaunchVariablesTests(ClusterFixture fixture)
{
    private static readonly string[] Names = [.. LaunchEnvironment.Launchers.SelectMany(l => new[] { l.Rank, l.WorldSize })];

    [Fact]
    public async Task Slurm_variables_give_rank_and_world_size_over_Open_MPI_and_a_bad_one_is_named()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using (var writer = await DatasetWriter.CreateAsync(fixture.Client, dir + "/data"))
        {
            for (var i = 0; i < 10; i++)
            {
                await writer.WriteAsync($"s{i}", "x", new byte[] { (byte)i });
            }

            await writer.CompleteAsync();
        }

        var saved = Names.ToDictionary(n => n, Environment.GetEnvironmentVariable);
        try
        {
            foreach (var name in Names)
            {
                Environment.SetEnvironmentVariable(name, null);
            }

            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_RANK", "0");
            Environment.SetEnvironmentVariable("OMPI_COMM_WORLD_SIZE", "3");
            Environment.SetEnvironmentVariable("SLURM_PROCID", "1");
            Environment.SetEnvironmentVariable("SLURM_NTASKS", "2");

            await using (var dataset = await LustreDataset.OpenAsync(fixture.Client, dir + "/data"))
            {
                Assert.Equal((1, 2), (dataset.Rank, dataset.WorldSize));
                Assert.Equal(5, dataset.RemainingInEpoch);
            }

            await using (var manager = new CheckpointManager(fixture.Client, dir + "/ckpt", new CheckpointManagerOptions { RunId = "launch-test" }))
            {
                Assert.Equal((1, 2), (manager.Rank, manager.WorldSize));
            }

            await using (var manager = new CheckpointManager(fixture.Client, dir + "/ckpt", new CheckpointManagerOptions { Rank = 0, WorldSize = 1 }))
            {
                Assert.Equal((0, 1), (manager.Rank, manager.WorldSize));
            }

            Environment.SetEnvironmentVariable("SLURM_NTASKS", "2(x1)");
            var error = Assert.Throws<ArgumentException>(() => new CheckpointManager(fixture.Client, dir + "/ckpt", new CheckpointManagerOptions { RunId = "launch-test" }));
            Assert.Contains("SLURM_NTASKS='2(x1)'", error.Message, StringComparison.Ordinal);
            error = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, dir + "/data"));
            Assert.Contains("SLURM_NTASKS='2(x1)'", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }
}
