namespace Lustre.Layouts;

/// <summary>Defaults and limits of file layouts, the same as Lustre's.</summary>
public static class LayoutDefaults
{
    /// <summary>The stripe size a layout gets when none is given: 4 MiB, as in current Lustre.</summary>
    public const long DefaultStripeSize = 4L << 20;

    /// <summary>Stripe sizes and component extents are multiples of this: 64 KiB, as in Lustre.</summary>
    public const long StripeAlignment = 64L << 10;

    /// <summary>The largest stripe size: the largest multiple of 64 KiB below 4 GiB.</summary>
    public const long MaxStripeSize = (4L << 30) - StripeAlignment;

    /// <summary>The most stripes (OST objects) one component can have: 2000, Lustre's limit.</summary>
    public const int MaxStripeCount = 2000;

    /// <summary>
    /// The largest Data-on-MDT component any layout may ask for: 1 GiB, as lfs refuses larger ones. Each metadata server
    /// has its own, lower limit (<see cref="DefaultDataOnMdtLimit"/> unless its operator changed it).
    /// </summary>
    public const long MaxDataOnMdtSize = 1L << 30;

    /// <summary>A metadata server's default limit on Data-on-MDT components: 1 MiB, Lustre's default <c>dom_stripesize</c>.</summary>
    public const long DefaultDataOnMdtLimit = 1L << 20;

    /// <summary>The most components a composite (PFL) layout can have.</summary>
    public const int MaxComponents = 64;

    /// <summary>The longest OST pool name: 15 characters (letters, digits, '_' and '-'), Lustre's <c>LOV_MAXPOOLNAME</c>.</summary>
    public const int MaxPoolNameLength = 15;
}
