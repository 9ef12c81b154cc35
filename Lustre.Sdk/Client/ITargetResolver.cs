using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>Where a target is now, and how to look again when it cannot be reached there: what a <see cref="RetryPolicy"/> sends through.</summary>
internal interface ITargetResolver
{
    /// <summary>How many times targets have been looked up again so far; a caller notes it before an attempt.</summary>
    long Epoch { get; }

    /// <summary>The target's current channel, with a lease the caller returns with <see cref="TargetChannel.Exit"/>.</summary>
    TargetChannel Acquire(TargetKind kind, int index);

    /// <summary>
    /// Looks the targets up again, unless that has happened since the caller saw <paramref name="seenEpoch"/>;
    /// concurrent callers share one lookup.
    /// </summary>
    ValueTask ResolveAgainAsync(long seenEpoch, CancellationToken cancellationToken);
}
