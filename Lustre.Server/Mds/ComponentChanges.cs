using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Mds;

/// <summary>
/// The changes <see cref="Opcode.MdsLayout"/> makes to the components of a file's layout, as pure functions of the
/// layout: each returns the new layout, or the same instance when there is nothing to change, and refuses with an
/// <see cref="RpcStatusException"/> naming the reason. The caller stores the result with a new generation.
/// </summary>
internal static class ComponentChanges
{
    /// <summary>
    /// Lustre's layout intent write: every component that starts below <paramref name="end"/> gets objects if it has
    /// none, so the instantiated components stay a prefix of the layout (see <see cref="FileLayout.InstantiatedEnd"/>).
    /// Components another client's request instantiated first are left as they are: one set of objects per component.
    /// </summary>
    /// <exception cref="RpcStatusException">ENODATA: the layout ends before <paramref name="end"/>; EINVAL: <paramref name="end"/> is not positive.</exception>
    public static FileLayout Instantiate(FileLayout layout, long end, IOstPlacement placement, MdtTransaction transaction)
    {
        if (end <= 0)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"a write or truncate reaching {end} needs no component instantiated: the end must be positive");
        }

        if (end > layout.End)
        {
            throw new RpcStatusException(
                LustreErrno.ENODATA,
                $"the layout ends at {layout.End}, before {end}: no component holds those bytes (add one with lfs setstripe --component-add)");
        }

        // A mirrored file has every component instantiated from its create on.
        return layout.IsMirrored || end <= layout.InstantiatedEnd ? layout : placement.InstantiateBelow(layout, end, transaction);
    }

    /// <summary>
    /// <c>lfs setstripe --component-add</c>: appends the components of <paramref name="added"/>, which travel from offset
    /// 0, at <paramref name="start"/>, which must be where the file's last component ends (as lfs starts the first
    /// added component there). They have no objects until a write reaches them; what they leave to the default is the
    /// filesystem's default, as Lustre fills in an added component.
    /// </summary>
    /// <exception cref="RpcStatusException">EINVAL: a plain file, no room after the last component, components that do not start where it ends, or a Data-on-MDT one; EBUSY: a mirrored file.</exception>
    public static FileLayout Add(FileLayout layout, long start, FileLayout added, FileLayout filesystemDefault)
    {
        RequireComposite(layout, "add components to");
        if (layout.End == LayoutComponent.Eof)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "the file's last component already extends to EOF: nothing can follow it (delete the last component first, if it has no objects)");
        }

        if (start != layout.End)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"the components to add start at {start}, but the file's last component ends at {layout.End}: they must start there");
        }

        if (added.IsMirrored || added.AllObjects().Any())
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "components to add must be plain templates without OST objects: they get their objects when a write reaches them");
        }

        if (added.HasDataOnMdt)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "a Data-on-MDT component can only be a layout's first one, not one added after it");
        }

        var components = LayoutInheritance.ResolveComponents(added.Components, [], filesystemDefault, inheritOffset: false);
        try
        {
            return layout.WithComponents([.. layout.Components, .. components.Select(c => c.Shifted(start))]);
        }
        catch (ArgumentException ex)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"the components cannot be added: {ex.Message}");
        }
    }

    /// <summary>
    /// <c>lfs setstripe --component-del</c>: removes the component with id <paramref name="id"/> (its <c>lcme_id</c>,
    /// its position from 1), or every component <paramref name="selection"/> picks. As Lustre, only components at the
    /// end of the layout go (no hole); here also only components without objects, so no written byte is lost.
    /// </summary>
    /// <exception cref="RpcStatusException">EINVAL: a plain file, no such component, a hole, or a component with objects; EBUSY: a mirrored file.</exception>
    public static FileLayout Delete(FileLayout layout, int id, ComponentSelection selection)
    {
        RequireComposite(layout, "delete components of");
        var components = layout.Components;
        bool Selected(int index) => selection switch
        {
            ComponentSelection.ById => index + 1 == id,
            ComponentSelection.Instantiated => components[index].IsInstantiated,
            ComponentSelection.Uninstantiated => !components[index].IsInstantiated,
            _ => throw new RpcStatusException(LustreErrno.EINVAL, $"unknown component selection {(byte)selection}"),
        };

        var keep = components.Count;
        for (var i = components.Count - 1; i >= 0; i--)
        {
            if (!Selected(i))
            {
                continue;
            }

            if (i + 1 != keep)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, $"deleting component {i + 1} would leave a hole: only the last components can be deleted, from the end");
            }

            if (components[i].IsInstantiated)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, $"component {i + 1} has objects (a write reached it): only components without objects can be deleted, so no written byte is lost");
            }

            keep = i;
        }

        if (keep == components.Count)
        {
            throw new RpcStatusException(
                LustreErrno.EINVAL,
                selection == ComponentSelection.ById
                    ? $"the file has no component {id}: its components are 1 to {components.Count}"
                    : $"no component of the file is {(selection == ComponentSelection.Instantiated ? "instantiated" : "without objects")}");
        }

        // The first component is instantiated at create, so it is never deleted: some component always remains.
        return layout.WithComponents([.. components.Take(keep)]);
    }

    private static void RequireComposite(FileLayout layout, string what)
    {
        if (layout.IsMirrored)
        {
            throw new RpcStatusException(LustreErrno.EBUSY, $"cannot {what} a mirrored file: change its mirrors with lfs mirror extend and lfs mirror split");
        }

        if (!layout.IsComposite)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"cannot {what} the file: it is not a composite (PFL) file");
        }
    }
}
