namespace Lustre.Layouts;

/// <summary>One object on one OST: where one stripe of a layout component keeps its bytes.</summary>
/// <param name="OstIndex">The index of the OST that holds the object.</param>
/// <param name="ObjectId">The object's id, unique on that OST.</param>
public readonly record struct OstObject(int OstIndex, ulong ObjectId)
{
    /// <summary>Returns the object as <c>ost:0xid</c>, the way Lustre's <c>lfs getstripe</c> lists objects.</summary>
    /// <returns>The object as text.</returns>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{OstIndex}:0x{ObjectId:x}");
}
