using System.Globalization;
using Lustre.Protocol;

namespace Lustre.Parameters;

/// <summary>
/// Parses the values written to parameters as the kernel's <c>kstrtoul</c> and <c>kstrtobool</c> parse what is written
/// to a Lustre <c>/sys</c> file (a trailing newline ignored, <c>0x</c> for hexadecimal), and refuses absurd ones with a
/// message that names the parameter and the range.
/// </summary>
internal static class ParameterValues
{
    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>]; EINVAL if it is none, ERANGE outside.</summary>
    public static long Integer(string name, string value, long min, long max)
    {
        var text = value.Trim();
        var parsed = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) && hex >= 0 ? hex : (long?)null
            : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) ? number : null;
        if (parsed is not { } result)
        {
            throw new ParameterException(LustreErrno.EINVAL, $"{name} takes a number from {min} to {max}; '{value}' is not one");
        }

        return result < min || result > max
            ? throw new ParameterException(LustreErrno.ERANGE, $"{name} must be {min} to {max}; {result} is not")
            : result;
    }

    /// <summary>0/1, y/n, on/off, as kstrtobool; EINVAL otherwise.</summary>
    public static bool Boolean(string name, string value) => value.Trim().ToLowerInvariant() switch
    {
        "1" or "y" or "yes" or "on" or "true" => true,
        "0" or "n" or "no" or "off" or "false" => false,
        _ => throw new ParameterException(LustreErrno.EINVAL, $"{name} takes 0 or 1; '{value}' is neither"),
    };
}
