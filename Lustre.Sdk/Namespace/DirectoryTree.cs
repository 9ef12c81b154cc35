using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Namespace;

/// <summary>
/// Whole-tree operations built from single-entry RPCs, as <c>mkdir -p</c> and <c>rm -r</c> do them: the checkpoint
/// manager and the <c>lustre</c> command share them. Several clients may run them on one tree at once (every rank of a
/// checkpoint), so what another client made or removed meanwhile is not an error.
/// </summary>
internal static class DirectoryTree
{
    /// <summary>Creates <paramref name="path"/> and any missing parents; nothing when it already exists.</summary>
    public static async Task CreateAsync(LustreClient client, string path, CancellationToken cancellationToken)
    {
        if (path == "/" || await client.ExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await CreateAsync(client, LustrePath.Parent(path), cancellationToken).ConfigureAwait(false);
        try
        {
            await client.CreateDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (LustreServerException ex) when (ex.Errno == LustreErrno.EEXIST)
        {
            // Made by another client meanwhile.
        }
    }

    /// <summary>Deletes a file, or a directory with everything under it; what is already gone is skipped.</summary>
    public static async Task DeleteAsync(LustreClient client, string path, bool isDirectory, CancellationToken cancellationToken)
    {
        try
        {
            if (!isDirectory)
            {
                await client.DeleteFileAsync(path, cancellationToken).ConfigureAwait(false);
                return;
            }

            var entries = new List<LustreDirectoryEntry>();
            await foreach (var entry in client.EnumerateDirectoryAsync(path, cancellationToken).ConfigureAwait(false))
            {
                entries.Add(entry);
            }

            foreach (var entry in entries)
            {
                await DeleteAsync(client, entry.Path, entry.IsDirectory, cancellationToken).ConfigureAwait(false);
            }

            await client.DeleteDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            // Already gone.
        }
    }
}
