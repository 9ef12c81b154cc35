namespace Lustre.Client;

/// <summary>
/// An OST pool: a named set of OSTs kept by the MGS (Lustre's <c>lctl pool_new</c>/<c>pool_add</c>). A layout that
/// names the pool (<see cref="Layouts.LayoutComponent.Pool"/>) gets its objects only on these OSTs.
/// </summary>
/// <param name="Name">The pool's name, without the filesystem's (<c>flash</c>, not <c>lustre.flash</c>).</param>
/// <param name="OstIndexes">The indexes of the pool's OSTs, ascending; empty for a pool made and not filled yet.</param>
public sealed record LustreOstPool(string Name, IReadOnlyList<int> OstIndexes);
