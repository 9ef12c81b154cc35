namespace Lustre.Layouts;

/// <summary>
/// OST pool names as Lustre allows them: 1 to <see cref="LayoutDefaults.MaxPoolNameLength"/> letters, digits,
/// <c>_</c> or <c>-</c> (the MGS's <c>mgs_extract_fs_pool</c>), and none of the words Lustre reserves for layouts
/// (<c>ignore</c>, <c>inherit</c>, <c>none</c>: <c>lov_pool_is_reserved</c>).
/// </summary>
internal static class PoolName
{
    /// <summary>What is wrong with <paramref name="name"/>, or null when it is a valid pool name.</summary>
    public static string? Check(string name)
    {
        if (name.Length == 0)
        {
            return "a pool name must not be empty";
        }

        if (name.Length > LayoutDefaults.MaxPoolNameLength)
        {
            return $"pool name '{name}' is {name.Length} characters long: at most {LayoutDefaults.MaxPoolNameLength}";
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '-'))
            {
                return $"pool name '{name}' can contain only letters, digits, '_' and '-'";
            }
        }

        return name is "ignore" or "inherit" or "none" ? $"pool name '{name}' is reserved by Lustre" : null;
    }

    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid pool name.</exception>
    public static void ThrowIfInvalid(string name, string paramName)
    {
        if (Check(name) is { } error)
        {
            throw new ArgumentException(error, paramName);
        }
    }
}
