namespace Lustre.Namespace;

/// <summary>
/// Shell globs as fnmatch(3) matches them with no flags, which is what <c>lfs find -name</c> uses: <c>*</c> any run
/// of characters (a leading dot included), <c>?</c> one character, <c>[abc]</c>, <c>[a-z]</c> and <c>[!abc]</c> (or
/// <c>[^abc]</c>) one character of a set, <c>\x</c> the character x itself. A <c>[</c> without its <c>]</c> is a
/// plain character. <c>lctl get_param</c> matches each dot-separated component of a parameter name with it, as glob(3)
/// matches each component of a path.
/// </summary>
internal static class GlobPattern
{
    public static bool Matches(string pattern, string name) => Matches(pattern.AsSpan(), name.AsSpan());

    private static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> name)
    {
        // Iterative with one backtracking point, the last '*': linear in practice, never exponential.
        int p = 0, n = 0, starP = -1, starN = 0;
        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                starP = ++p;
                starN = n;
                continue;
            }

            if (p < pattern.Length && MatchOne(pattern, ref p, name[n]))
            {
                n++;
                continue;
            }

            if (starP < 0)
            {
                return false;
            }

            p = starP;
            n = ++starN;
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Whether the pattern element at <paramref name="p"/> matches <paramref name="c"/>; advances past the element when it does.</summary>
    private static bool MatchOne(ReadOnlySpan<char> pattern, ref int p, char c)
    {
        switch (pattern[p])
        {
            case '?':
                p++;
                return true;
            case '[' when TryMatchSet(pattern, p, c, out var end, out var inSet):
                if (!inSet)
                {
                    return false;
                }

                p = end;
                return true;
            case '\\' when p + 1 < pattern.Length:
                if (pattern[p + 1] != c)
                {
                    return false;
                }

                p += 2;
                return true;
            default:
                if (pattern[p] != c)
                {
                    return false;
                }

                p++;
                return true;
        }
    }

    /// <summary>Parses the bracket expression at <paramref name="start"/>; false when it has no closing bracket (then '[' is literal).</summary>
    private static bool TryMatchSet(ReadOnlySpan<char> pattern, int start, char c, out int end, out bool matched)
    {
        var i = start + 1;
        var negated = i < pattern.Length && pattern[i] is '!' or '^';
        if (negated)
        {
            i++;
        }

        matched = false;
        var first = true;
        while (i < pattern.Length && (first || pattern[i] != ']'))
        {
            first = false;
            var low = pattern[i];
            if (low == '\\' && i + 1 < pattern.Length)
            {
                low = pattern[++i];
            }

            var high = low;
            if (i + 2 < pattern.Length && pattern[i + 1] == '-' && pattern[i + 2] != ']')
            {
                high = pattern[i + 2];
                if (high == '\\' && i + 3 < pattern.Length)
                {
                    high = pattern[i + 3];
                    i++;
                }

                i += 2;
            }

            matched |= c >= low && c <= high;
            i++;
        }

        if (i >= pattern.Length)
        {
            end = start;
            return false;
        }

        end = i + 1;
        matched ^= negated;
        return true;
    }
}
