namespace Lustre.Migration;

/// <summary>
/// How <see cref="Client.LustreClient.MigrateAsync"/> treats the file's writers, as <c>lfs migrate --block</c> (the
/// default) and <c>--non-block</c> do. Either way a writer's data is never lost: it is in the copy, or the migration
/// fails and the file keeps its objects (docs/consistency.md, "Migration").
/// </summary>
public sealed class MigrateOptions
{
    /// <summary>The longest <see cref="BusyTimeout"/> accepted: a day.</summary>
    public static readonly TimeSpan MaxBusyTimeout = TimeSpan.FromDays(1);

    /// <summary>
    /// False (the default, <c>lfs migrate --block</c>): from the start of the copy to the swap, opens of the file for
    /// writing wait (the SDK tries them again until the new layout is in place); writers that already have it open are
    /// waited for, up to <see cref="BusyTimeout"/>; if the file still changes (a writer the MDS lost track of), the
    /// migration starts again, up to three times in all.
    /// <para>
    /// True (<c>--non-block</c>): writers are never held off. The migration fails at once with EBUSY while the file is
    /// open for writing, and fails with EBUSY, leaving the file as it was, when anyone opens it for writing or changes
    /// its size before the layouts are swapped.
    /// </para>
    /// </summary>
    public bool NonBlocking { get; set; }

    /// <summary>
    /// How long a blocking migration waits for writers that have the file open, or for another migration of it, before it
    /// fails with EBUSY (new writers wait meanwhile). Default 30 seconds; zero: not at all. Not used when
    /// <see cref="NonBlocking"/>.
    /// </summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Throws when an option is out of range, naming it.</summary>
    internal void Validate()
    {
        if (BusyTimeout < TimeSpan.Zero || BusyTimeout > MaxBusyTimeout)
        {
            throw new ArgumentOutOfRangeException(nameof(BusyTimeout), BusyTimeout, $"{nameof(MigrateOptions)}.{nameof(BusyTimeout)} must be between zero and {MaxBusyTimeout}.");
        }
    }
}
