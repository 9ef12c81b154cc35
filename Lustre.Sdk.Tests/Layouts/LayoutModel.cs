using Lustre.Layouts;

namespace Lustre.Tests.Layouts;

/// <summary>
/// A brute-force model of striping that shares no arithmetic with <see cref="StripeMath"/>: it
/// walks a component byte by byte, handing each run of S bytes to the next stripe in turn and
/// appending it to that stripe's object.
/// </summary>
internal static class LayoutModel
{
    public const long K64 = LayoutDefaults.StripeAlignment;

    /// <summary>Walks bytes [0, length) of a component; returns each byte's stripe and object offset.</summary>
    public static (int[] Stripe, long[] ObjectOffset) Walk(long length, long stripeSize, int stripeCount)
    {
        var stripes = new int[length];
        var offsets = new long[length];
        var fill = new long[stripeCount];
        var stripe = 0;
        long inUnit = 0;
        for (long b = 0; b < length; b++)
        {
            stripes[b] = stripe;
            offsets[b] = fill[stripe]++;
            if (++inUnit == stripeSize)
            {
                inUnit = 0;
                stripe = (stripe + 1) % stripeCount;
            }
        }

        return (stripes, offsets);
    }

    /// <summary>For every file byte in [0, limit): its component, stripe, object and object offset, by walking each component.</summary>
    public static (int[] Component, int[] Stripe, OstObject[] Object, long[] ObjectOffset) WalkLayout(FileLayout layout, long limit)
    {
        var components = new int[limit];
        var stripes = new int[limit];
        var objects = new OstObject[limit];
        var offsets = new long[limit];
        for (var c = 0; c < layout.Components.Count; c++)
        {
            var component = layout.Components[c];
            if (component.Start >= limit)
            {
                break;
            }

            var length = Math.Min(component.End, limit) - component.Start;
            var (s, o) = Walk(length, component.StripeSize, component.StripeCount);
            for (long i = 0; i < length; i++)
            {
                var b = component.Start + i;
                components[b] = c;
                stripes[b] = s[i];
                objects[b] = component.Objects[s[i]];
                offsets[b] = o[i];
            }
        }

        return (components, stripes, objects, offsets);
    }

    /// <summary>Gives every component of a template its objects: stripe s of component c is on OST s with id 1000 c + s + 1.</summary>
    public static FileLayout Instantiate(FileLayout layout, int upToComponent = int.MaxValue)
    {
        var components = new LayoutComponent[layout.Components.Count];
        for (var c = 0; c < components.Length; c++)
        {
            var component = layout.Components[c];
            if (c > upToComponent)
            {
                components[c] = component;
                continue;
            }

            var objects = new OstObject[component.StripeCount];
            for (var s = 0; s < objects.Length; s++)
            {
                objects[s] = new OstObject(s, (ulong)((1000 * c) + s + 1));
            }

            components[c] = component.WithObjects(objects);
        }

        return layout.WithComponents(components);
    }

    /// <summary>A three-component PFL layout: [0, 128K) on 1 stripe, [128K, 512K) on 2, [512K, EOF) on 3, all 64 KiB stripes.</summary>
    public static FileLayout ThreeComponentPfl() => FileLayout.Composite(
    [
        new LayoutComponent(0, 2 * K64, K64, 1),
        new LayoutComponent(2 * K64, 8 * K64, K64, 2),
        new LayoutComponent(8 * K64, LayoutComponent.Eof, K64, 3),
    ]);
}
