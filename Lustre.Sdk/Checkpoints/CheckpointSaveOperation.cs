using System.Diagnostics;

namespace Lustre.Checkpoints;

/// <summary>
/// A checkpoint save running in the background, returned by <see cref="CheckpointManager.SaveAsync"/> once the
/// tensors are staged. <see cref="Completion"/> completes when the checkpoint is <see cref="CheckpointSaveStatus.Committed"/>
/// (every byte durable and the manifest renamed into place), and faults or is cancelled when the save failed.
/// </summary>
public sealed class CheckpointSaveOperation
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private int _status = (int)CheckpointSaveStatus.Staged;
    private Task _completion = Task.CompletedTask;
    private long _completedTicks;

    internal CheckpointSaveOperation(long step, int rank, long bytes)
    {
        Step = step;
        Rank = rank;
        Bytes = bytes;
    }

    /// <summary>The training step this checkpoint is for.</summary>
    public long Step { get; }

    /// <summary>The rank that saved this part.</summary>
    public int Rank { get; }

    /// <summary>The tensor bytes this rank saves (without file headers).</summary>
    public long Bytes { get; }

    /// <summary>The current state.</summary>
    public CheckpointSaveStatus Status => (CheckpointSaveStatus)Volatile.Read(ref _status);

    /// <summary>True when the save committed or failed.</summary>
    public bool HasCompleted => _completion.IsCompleted;

    /// <summary>Completes when committed; faults (or is cancelled) when the save failed.</summary>
    public Task Completion => _completion;

    /// <summary>The error of a failed save, else null.</summary>
    public Exception? Exception => _completion.IsFaulted ? _completion.Exception?.GetBaseException() : null;

    /// <summary>How long <see cref="CheckpointManager.SaveAsync"/> kept the caller waiting (planning and staging copies).</summary>
    public TimeSpan StagingTime { get; internal set; }

    /// <summary>From the call of <see cref="CheckpointManager.SaveAsync"/> to completion; null while running.</summary>
    public TimeSpan? TotalTime => Volatile.Read(ref _completedTicks) is var ticks and > 0 ? Stopwatch.GetElapsedTime(_started, ticks) : null;

    /// <summary>Waits until the save commits, or throws its error. Cancelling <paramref name="cancellationToken"/> stops the wait, not the save.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>A task that completes with the save.</returns>
    public Task WaitForCompletionAsync(CancellationToken cancellationToken = default) => _completion.WaitAsync(cancellationToken);

    internal long StartTimestamp => _started;

    internal void Advance(CheckpointSaveStatus status)
    {
        int current;
        while ((current = Volatile.Read(ref _status)) < (int)status && current != (int)CheckpointSaveStatus.Failed &&
               Interlocked.CompareExchange(ref _status, (int)status, current) != current)
        {
        }
    }

    internal void Run(Func<Task> body) => _completion = RunAsync(body);

    private async Task RunAsync(Func<Task> body)
    {
        try
        {
            await body().ConfigureAwait(false);
        }
        catch
        {
            Volatile.Write(ref _status, (int)CheckpointSaveStatus.Failed);
            throw;
        }
        finally
        {
            Volatile.Write(ref _completedTicks, Stopwatch.GetTimestamp());
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"checkpoint step {Step} rank {Rank}: {Status}";
}
