using System.Runtime.CompilerServices;

namespace Lustre.Layouts;

/// <summary>Validates requested stripe counts and resolves them against the OSTs there are.</summary>
internal static class StripeCount
{
    /// <summary>The stripe count that means "stripe over every OST".</summary>
    public const int All = -1;

    /// <summary>The stripe count of a template that leaves it unset: the default, resolved when a file is created (lfs's <c>-c 0</c>).</summary>
    public const int Default = 0;

    /// <summary>Throws unless <paramref name="value"/> is -1 (all OSTs) or 1 to <see cref="LayoutDefaults.MaxStripeCount"/>.</summary>
    public static void ThrowIfInvalid(int value, [CallerArgumentExpression(nameof(value))] string? paramName = null)
    {
        if (value == 0 || value < All)
        {
            throw new ArgumentOutOfRangeException(paramName, value, $"Stripe count must be -1 (all OSTs) or between 1 and {LayoutDefaults.MaxStripeCount}, got {value}.");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, LayoutDefaults.MaxStripeCount, paramName);
    }

    /// <summary>Throws unless <paramref name="value"/> is a count a template may have: <see cref="Default"/> (unset) or a valid count.</summary>
    public static void ThrowIfInvalidTemplate(int value, [CallerArgumentExpression(nameof(value))] string? paramName = null)
    {
        if (value != Default)
        {
            ThrowIfInvalid(value, paramName);
        }
    }

    /// <summary>
    /// Turns a requested stripe count into the number of objects to allocate. -1 means every OST
    /// (at most <see cref="LayoutDefaults.MaxStripeCount"/>); a count above the OSTs available is
    /// capped, as Lustre caps it with a warning rather than failing the create.
    /// </summary>
    /// <param name="requested">-1, or 1 to <see cref="LayoutDefaults.MaxStripeCount"/>.</param>
    /// <param name="availableOsts">How many OSTs can take an object now.</param>
    /// <param name="capped">True when an explicit count was reduced to fit the OSTs.</param>
    /// <exception cref="IOException">No OST is available.</exception>
    public static int Resolve(int requested, int availableOsts, out bool capped)
    {
        ThrowIfInvalid(requested);
        if (availableOsts < 1)
        {
            throw new IOException($"Cannot stripe a file: no OST available (ENOSPC), {availableOsts} usable.");
        }

        if (requested == All)
        {
            capped = false;
            return Math.Min(availableOsts, LayoutDefaults.MaxStripeCount);
        }

        capped = requested > availableOsts;
        return capped ? availableOsts : requested;
    }
}
