namespace Lustre.Protocol;

/// <summary>Why a frame header was rejected.</summary>
internal enum FrameError
{
    None = 0,
    Truncated,
    BadMagic,
    BadVersion,
    BodyTooLarge,
    BulkTooLarge,
    ReservedNotZero,
}
