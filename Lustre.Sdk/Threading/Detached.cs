using System.Collections.Concurrent;

namespace Lustre.Threading;

/// <summary>
/// Lets a <see cref="ValueTask"/> that nobody awaits run to its end and still be read once, as its source requires: a
/// <see cref="PooledValueTaskBuilder"/> method's box goes back to its pool only when its result is read, so a call
/// left to itself with <c>_ =</c> would leave a new box to the collector each time it went asynchronous. The watcher
/// that reads it is pooled too. Exceptions are the method's own business: it must catch what it can meet.
/// </summary>
internal sealed class Detached
{
    private static readonly ConcurrentBag<Detached> s_pool = [];

    private readonly Action _completed;
    private ValueTask _task;

    private Detached() => _completed = Completed;

    /// <summary>Reads <paramref name="task"/>'s result once it ends: now if it has, or on the thread that ends it.</summary>
    public static void Run(ValueTask task)
    {
        if (task.IsCompleted)
        {
            Observe(task);
            return;
        }

        var watcher = s_pool.TryTake(out var pooled) ? pooled : new Detached();
        watcher._task = task;
        task.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(watcher._completed);
    }

    private void Completed()
    {
        var task = _task;
        _task = default;
        s_pool.Add(this);
        Observe(task);
    }

    private static void Observe(ValueTask task)
    {
        try
        {
            task.GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // Left to itself by design (see the summary): the method has reported what it could.
        }
    }
}
