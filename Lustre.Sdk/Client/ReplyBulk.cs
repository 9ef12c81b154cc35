namespace Lustre.Client;

/// <summary>
/// Where a reply's bulk lands: one buffer, or several that it fills in order. The second is a scatter receive: a
/// batched read's ranges go from the socket straight into the buffers of the requests that asked for them, not into
/// one buffer first and then copied out (that copy was 4 % of the CPU of a folder epoch). A buffer (or an
/// array) converts implicitly, so a call with one buffer reads as it always did.
/// </summary>
internal readonly struct ReplyBulk
{
    public ReplyBulk(Memory<byte> buffer)
    {
        Buffer = buffer;
        Length = buffer.Length;
    }

    /// <summary>Segments the bulk fills one after another; none may be shared with another call in flight.</summary>
    public ReplyBulk(Memory<byte>[] segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        long length = 0;
        foreach (var segment in segments)
        {
            length += segment.Length;
        }

        Segments = segments;
        Length = checked((int)length);
    }

    /// <summary>The one buffer (empty when <see cref="Segments"/> is set).</summary>
    public Memory<byte> Buffer { get; }

    /// <summary>The segments, in the order the bulk fills them; null for one buffer.</summary>
    public Memory<byte>[]? Segments { get; }

    /// <summary>The most bytes the bulk may hold.</summary>
    public int Length { get; }

    public static implicit operator ReplyBulk(Memory<byte> buffer) => new(buffer);

    public static implicit operator ReplyBulk(byte[] buffer) => new(buffer);
}
