using System.Text.RegularExpressions;
using Checkpointing;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Tests.Cluster;
using Xunit.Abstractions;

namespace Lustre.Tests.Checkpoints;

/// <summary>
/// A process saving checkpoints in a loop (samples/Checkpointing) is killed with SIGKILL at seeded random moments,
/// against a `lustre up` server in another process. After every kill the latest checkpoint must load whole and hold
/// exactly the state of its step, and no checkpoint the saver reported committed may be lost.
/// </summary>
public sealed partial class CheckpointCrashTests : IDisposable
{
    private const int Seed = 6_2026;
    private const int SizeMiB = 8;
    private readonly TempFolder _data = new("lustre-ckpt-crash-");
    private readonly ITestOutputHelper _log;

    public CheckpointCrashTests(ITestOutputHelper log) => _log = log;

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task A_saver_killed_with_SIGKILL_at_random_moments_never_leaves_a_torn_or_lost_checkpoint()
    {
        var random = new Random(Seed);
        await using var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "4");
        var address = await server.WaitForAddressAsync();
        await using var client = new LustreClient(address);
        await using var reader = new CheckpointManager(client, "/ckpt", new CheckpointManagerOptions { Rank = 0, WorldSize = 1, RunId = null });
        var expected = new TrainingState((long)SizeMiB << 20);
        long committed = -1;
        for (var run = 0; run < 6; run++)
        {
            var selfKill = run % 3 == 2;
            string output;
            await using (var saver = ServerProcess.StartAssembly(
                "Checkpointing.dll",
                ["--mgs", address, "--root", "/ckpt", "--size-mb", $"{SizeMiB}", "--steps", "1000000", "--every", "5", "--step-ms", "5", "--keep", "2", "--seed", $"{Seed + run}", .. selfKill ? ["--crash-during-save", "--crash-window-ms", "25"] : Array.Empty<string>()]))
            {
                var start = await saver.WaitForLineAsync(StartLine(), TimeSpan.FromSeconds(60));
                Assert.Equal(committed < 0 ? "no checkpoint yet" : $"resumed from step {committed}", start.Groups[1].Value);
                if (selfKill)
                {
                    // The sample kills itself (SIGKILL) a random few ms into its first save.
                    await saver.WaitForLineAsync(CrashLine(), TimeSpan.FromSeconds(60));
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    while (!saver.HasExited)
                    {
                        await Task.Delay(20, cts.Token);
                    }
                }
                else
                {
                    await Task.Delay(random.Next(300, 1500));
                    await saver.KillAsync();
                }

                output = saver.Output;
            }

            var reported = CommittedLine().Matches(output).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(-1).Max();
            var latest = await reader.GetLatestStepAsync();
            var context = $"seed {Seed}, run {run} ({(selfKill ? "self-kill mid-save" : "SIGKILL from outside")}): reported committed {reported}, previous {committed}, latest {latest}";
            _log.WriteLine(context);
            context += "\n" + output;
            if (latest is null)
            {
                Assert.True(reported < 0 && committed < 0, context);
                continue;
            }

            Assert.True(latest >= Math.Max(reported, committed), "a committed checkpoint was lost: " + context);
            using var checkpoint = await reader.LoadAsync();
            Assert.True(expected.Verify(checkpoint) is null, $"{expected.Verify(checkpoint)}: {context}");
            committed = checkpoint.Step;
        }

        Assert.True(committed > 0, "no run committed any checkpoint");
    }

    [GeneratedRegex("^(no checkpoint yet|resumed from step \\d+)")]
    private static partial Regex StartLine();

    [GeneratedRegex("^crashing \\d+ ms into the save")]
    private static partial Regex CrashLine();

    [GeneratedRegex("^committed step (\\d+):", RegexOptions.Multiline)]
    private static partial Regex CommittedLine();
}
