using System.Globalization;

namespace Lustre.Protocol;

/// <summary>
/// Lustre's names of targets: <c>OST0002</c> on its server, <c>lustre-OST0002</c> and <c>lustre-MDT0000</c> across
/// the filesystem (the index in four hex digits, as <c>lfs df</c> and <c>lctl dl</c> print them).
/// </summary>
internal static class TargetNames
{
    public static string Ost(int index) => string.Create(CultureInfo.InvariantCulture, $"OST{index:X4}");

    public static string Ost(string fsName, int index) => string.Create(CultureInfo.InvariantCulture, $"{fsName}-OST{index:X4}");

    /// <summary>The filesystem's only MDT (index 0).</summary>
    public static string Mdt(string fsName) => fsName + "-MDT0000";
}
