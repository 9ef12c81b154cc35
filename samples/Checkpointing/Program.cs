// Checkpointing: a training-loop-shaped app that saves its state asynchronously every N steps and resumes from the
// latest committed checkpoint. Run it twice with the same --data (or --mgs) to see it resume; --crash-during-save
// kills the process (SIGKILL) in the middle of a save, and the next run still finds the previous checkpoint whole.
using System.Diagnostics;
using System.Globalization;
using Checkpointing;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Server.Cluster;

var options = Arguments.Parse(args);
await using var cluster = options.Mgs is null
    ? await LustreCluster.StartAsync(new LustreClusterOptions { DataDirectory = options.Data, OstCount = 4 })
    : null;
var address = options.Mgs ?? cluster!.Address;
Console.WriteLine(cluster is null ? $"Using the cluster at {address}" : $"Started an embedded cluster at {address}, data in {cluster.DataDirectory}");

await using var client = new LustreClient(address);
await using var checkpoints = new CheckpointManager(client, options.Root, new CheckpointManagerOptions { KeepLast = options.Keep, Rank = 0, WorldSize = 1, RunId = null });
var state = new TrainingState(options.SizeMiB << 20);

// Staging memory for saves of this size, ready before the first save, so that one blocks no longer than later ones.
var staging = checkpoints.PrepareStagingAsync(state.Bytes);
Console.WriteLine($"State: {state.Tensors().Count} tensors, {state.Bytes / (1 << 20)} MiB; saving every {options.Every} steps to {options.Root}");

if (await checkpoints.GetLatestStepAsync() is { } latest)
{
    var timer = Stopwatch.StartNew();
    using var checkpoint = await checkpoints.LoadAsync(latest);
    state.Restore(checkpoint);
    Console.WriteLine($"resumed from step {latest}: {checkpoint.Bytes / (1 << 20)} MiB loaded and verified byte for byte in {timer.ElapsedMilliseconds} ms");
}
else
{
    Console.WriteLine("no checkpoint yet: starting from step 0");
}

await staging;
var random = new Random(options.Seed);
var firstStep = state.Step;
var saves = new List<CheckpointSaveOperation>();
var reports = new List<Task>();
var loop = Stopwatch.StartNew();
var stepTime = TimeSpan.Zero;
var blocked = 0.0;
while (state.Step < options.Steps)
{
    var step = Stopwatch.StartNew();
    state.TrainStep();
    if (options.StepMs > 0)
    {
        // Stands in for the forward and backward pass.
        await Task.Delay(options.StepMs);
    }

    stepTime += step.Elapsed;
    if (state.Step % options.Every != 0)
    {
        continue;
    }

    // At most one save in flight, as training frameworks do: waiting for the previous one counts as blocked time.
    var blockedTimer = Stopwatch.StartNew();
    if (saves.Count > 0)
    {
        await saves[^1].Completion;
    }

    var save = await checkpoints.SaveAsync(state.Step, state.Tensors(), new Dictionary<string, string> { ["sample"] = "Checkpointing" });
    var blockedMs = blockedTimer.Elapsed.TotalMilliseconds;
    blocked += blockedMs;
    saves.Add(save);
    var saved = state.Step;
    reports.Add(save.Completion.ContinueWith(
        done => Console.WriteLine(done.IsCompletedSuccessfully
            ? $"committed step {saved}: loop blocked {blockedMs:F0} ms (staging copy {save.StagingTime.TotalMilliseconds:F0} ms), durable and committed after {save.TotalTime!.Value.TotalMilliseconds:F0} ms"
            : $"save of step {saved} failed: {save.Exception?.Message ?? "cancelled"}"),
        TaskScheduler.Default));

    if (options.CrashDuringSave)
    {
        // Die somewhere between "staged" and "committed": the files may be half written, the manifest missing or renamed.
        var delay = random.Next(0, options.CrashWindowMs);
        Console.WriteLine($"crashing {delay} ms into the save of step {saved}");
        await Task.Delay(delay);
        Process.GetCurrentProcess().Kill();
    }
}

await Task.WhenAll(reports);
var total = saves.Sum(s => s.TotalTime!.Value.TotalMilliseconds);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{saves.Count} saves of {state.Bytes / (1 << 20)} MiB: the loop was blocked {blocked / Math.Max(1, saves.Count):F0} ms per save, a save took {total / Math.Max(1, saves.Count):F0} ms to commit; {options.Steps - firstStep} steps ({stepTime.TotalSeconds:F1} s of them training) in {loop.Elapsed.TotalSeconds:F1} s"));
Console.WriteLine($"committed steps kept: {string.Join(", ", await checkpoints.ListStepsAsync())}");
return 0;

/// <summary>The command line.</summary>
internal sealed record Arguments(string? Mgs, string? Data, string Root, long SizeMiB, long Steps, long Every, int Keep, int Seed, int StepMs, bool CrashDuringSave, int CrashWindowMs)
{
    public static Arguments Parse(string[] args)
    {
        var result = new Arguments(null, null, "/checkpoints", 256, 40, 10, 3, 1, 100, false, 200);
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            long Number() => long.Parse(Value(), CultureInfo.InvariantCulture);
            result = args[i] switch
            {
                "--mgs" => result with { Mgs = Value() },
                "--data" => result with { Data = Value() },
                "--root" => result with { Root = Value() },
                "--size-mb" => result with { SizeMiB = Number() },
                "--steps" => result with { Steps = Number() },
                "--every" => result with { Every = Number() },
                "--keep" => result with { Keep = (int)Number() },
                "--seed" => result with { Seed = (int)Number() },
                "--step-ms" => result with { StepMs = (int)Number() },
                "--crash-during-save" => result with { CrashDuringSave = true },
                "--crash-window-ms" => result with { CrashWindowMs = (int)Number() },
                _ => throw new ArgumentException(
                    $"unknown option {args[i]}; use --mgs ADDRESS | --data DIR, --root PATH, --size-mb N, --steps N, --every N, --keep N, --seed N, --step-ms N, --crash-during-save [--crash-window-ms N]"),
            };
        }

        return result;
    }
}
