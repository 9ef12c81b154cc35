namespace Lustre.Benchmarks.Io500;

/// <summary>Runs every task's share of a phase and returns when the last task is done (IO500 without stonewalling).</summary>
internal interface IIo500Tasks : IAsyncDisposable
{
    Task<long> RunAsync(Io500Phase phase);
}

/// <summary>
/// The tasks as concurrent callers in this process, one storage (for ours: one <see cref="Client.LustreClient"/>)
/// each. With <paramref name="dedicatedThreads"/> each task runs on its own thread: the local baseline's storage
/// is synchronous, as ior/mdtest ranks are.
/// </summary>
internal sealed class InProcessTasks(Io500Phases phases, IReadOnlyList<IIo500Storage> storages, bool dedicatedThreads) : IIo500Tasks
{
    public async Task<long> RunAsync(Io500Phase phase)
    {
        if (phase == Io500Phase.Find)
        {
            return await phases.FindAsync(storages);
        }

        var tasks = new Task<long>[storages.Count];
        for (var t = 0; t < tasks.Length; t++)
        {
            var task = t;
            tasks[t] = dedicatedThreads
                ? Task.Factory.StartNew(() => phases.RunTaskAsync(phase, storages[task], task).GetAwaiter().GetResult(), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
                : Task.Run(() => phases.RunTaskAsync(phase, storages[task], task));
        }

        long total = 0;
        foreach (var units in await Task.WhenAll(tasks))
        {
            total += units;
        }

        return total;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
