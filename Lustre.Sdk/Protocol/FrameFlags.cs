namespace Lustre.Protocol;

/// <summary>Bits of the frame header's flags field.</summary>
[Flags]
internal enum FrameFlags : ushort
{
    None = 0,

    /// <summary>The frame is a reply to the request with the same xid.</summary>
    Reply = 0x1,

    /// <summary>The request is a resend of an earlier one with the same xid (reply reconstruction).</summary>
    Resend = 0x2,

    /// <summary>
    /// On a request: the client verifies the reply's bulk end to end with its own checksum over the data (a
    /// checkpoint's chunk hash), so the reply's bulk goes without a per-transfer checksum, on a connection that
    /// has them, and the client does not check one. The server echoes the bit on the reply.
    /// </summary>
    EndToEndVerified = 0x4,

    /// <summary>
    /// On a request: the body ends with a W3C trace context (<see cref="Protocol.TraceContext"/>, 25 bytes counted in
    /// the body length), sent only while the client traces the call.
    /// </summary>
    TraceContext = 0x8,

    /// <summary>
    /// On a request, on a connection that agreed to <c>ChecksumPerRequest</c>: this request's bulk carries no checksum
    /// (<c>bulk_checksum</c> 0, not verified) and its reply's bulk gets none, whatever the connection agreed for bulk
    /// checksums. The client's per-OST choice (<c>osc.*.checksums</c>), made per request as Lustre's OSC decides per RPC.
    /// </summary>
    NoBulkChecksum = 0x10,
}
