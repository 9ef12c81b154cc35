using System.Diagnostics;

namespace Lustre.Protocol;

/// <summary>
/// The W3C trace context a request carries when the client traces it (<see cref="FrameFlags.TraceContext"/>): the
/// last 25 bytes of the body, trace-id (16), the client span's id (8) and trace-flags (1), so the server's span of
/// the request becomes a child of the client's. See docs/protocol.md §3.
/// </summary>
internal static class TraceContext
{
    public const int Size = 16 + 8 + 1;

    /// <summary>
    /// Appends the current activity's context to <paramref name="frame"/>'s body when there is one (some listener
    /// created it); false, and nothing written, when tracing is off.
    /// </summary>
    public static bool TryAppendCurrent(FrameBuffer frame)
    {
        if (Activity.Current is not { IdFormat: ActivityIdFormat.W3C } activity)
        {
            return false;
        }

        Write(frame.GetSpan(Size), activity.TraceId, activity.SpanId, activity.ActivityTraceFlags);
        frame.Advance(Size);
        return true;
    }

    public static void Write(Span<byte> destination, ActivityTraceId traceId, ActivitySpanId spanId, ActivityTraceFlags flags)
    {
        // Exactly 16 and 8 bytes: an id made from hex converts as many bytes as the span it is given.
        traceId.CopyTo(destination[..16]);
        spanId.CopyTo(destination.Slice(16, 8));
        destination[24] = (byte)flags;
    }

    /// <summary>
    /// Reads a context written by <see cref="TryAppendCurrent"/>; false for one whose trace-id or span-id is all
    /// zeros, which W3C calls invalid (the request is then served as if it carried none).
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out ActivityContext context)
    {
        context = default;
        if (source.Length != Size || !source[..16].ContainsAnyExcept((byte)0) || !source[16..24].ContainsAnyExcept((byte)0))
        {
            return false;
        }

        context = new ActivityContext(
            ActivityTraceId.CreateFromBytes(source[..16]),
            ActivitySpanId.CreateFromBytes(source[16..24]),
            (ActivityTraceFlags)(source[24] & (byte)ActivityTraceFlags.Recorded),
            isRemote: true);
        return true;
    }
}
