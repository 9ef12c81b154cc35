namespace Lustre.Layouts;

/// <summary>
/// A run of file bytes that lives contiguously in one stripe unit of one object:
/// file bytes [<paramref name="FileOffset"/>, +<paramref name="Length"/>) are object bytes
/// [<paramref name="ObjectOffset"/>, +<paramref name="Length"/>).
/// </summary>
/// <param name="ComponentIndex">The layout component the bytes are in.</param>
/// <param name="StripeIndex">The stripe within that component.</param>
/// <param name="Object">The stripe's OST object.</param>
/// <param name="ObjectOffset">The offset of the first byte within the object.</param>
/// <param name="FileOffset">The offset of the first byte within the file.</param>
/// <param name="Length">The number of bytes, at least 1.</param>
/// <param name="OnMdt">
/// The bytes are in the layout's Data-on-MDT component: they live on the MDT, addressed by file offset
/// (<paramref name="ObjectOffset"/> is <paramref name="FileOffset"/>), and <paramref name="Object"/> is unused.
/// </param>
internal readonly record struct StripeExtent(int ComponentIndex, int StripeIndex, OstObject Object, long ObjectOffset, long FileOffset, long Length, bool OnMdt = false);
