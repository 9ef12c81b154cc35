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
}
