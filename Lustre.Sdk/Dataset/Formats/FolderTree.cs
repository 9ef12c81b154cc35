using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Dataset.Formats;

/// <summary>
/// One file per sample (<see cref="DatasetFormat.Folder"/>), as torchvision's <c>ImageFolder</c>: the roots' trees are
/// listed (the directories of each level at once), every file becomes a shard of one sample with one field named by its
/// extension, and the files are opened in batches of a thousand (<see cref="Opcode.MdsOpenBatch"/>) for their sizes.
/// Nothing of the file is read here.
/// </summary>
internal static class FolderTree
{
    /// <summary>Directories listed at once while walking the trees.</summary>
    private const int ListingsInFlight = 8;

    /// <summary>The field of a file without an extension.</summary>
    public const string DefaultFieldName = "data";

    /// <summary>
    /// Adds every file below <paramref name="roots"/> to <paramref name="builder"/>, root after root, each root's files
    /// in ordinal path order, and returns the class names (ImageFolder: the directories directly in the roots, in
    /// ordinal order; none with a <paramref name="labelSelector"/>).
    /// </summary>
    public static async Task<IReadOnlyList<string>> ScanAsync(
        LustreClient client, IEnumerable<string> roots, SampleIndexBuilder builder, Func<string, int>? labelSelector, IReadOnlyList<string> requiredFields, CancellationToken cancellationToken)
    {
        var rootPaths = new List<string>();
        foreach (var path in roots)
        {
            var info = await client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
            if (!info.IsDirectory)
            {
                throw new ArgumentException($"{info.Path} is a file; with {nameof(DatasetFormat)}.{nameof(DatasetFormat.Folder)} every path is a directory of samples (or of class folders).", nameof(roots));
            }

            rootPaths.Add(info.Path);
        }

        var files = new List<(int Root, LustreDirectoryEntry Entry)>();
        var classNames = new SortedSet<string>(StringComparer.Ordinal);
        var level = new List<(int Root, string Path)>();
        for (var r = 0; r < rootPaths.Count; r++)
        {
            level.Add((r, rootPaths[r]));
        }

        for (var depth = 0; level.Count > 0; depth++)
        {
            var listings = new List<LustreDirectoryEntry>[level.Count];
            await Parallel.ForEachAsync(
                Enumerable.Range(0, level.Count),
                new ParallelOptions { MaxDegreeOfParallelism = ListingsInFlight, CancellationToken = cancellationToken },
                async (i, token) =>
                {
                    var entries = new List<LustreDirectoryEntry>();
                    await foreach (var entry in client.EnumerateDirectoryAsync(level[i].Path, token).ConfigureAwait(false))
                    {
                        entries.Add(entry);
                    }

                    listings[i] = entries;
                }).ConfigureAwait(false);
            var next = new List<(int Root, string Path)>();
            for (var i = 0; i < level.Count; i++)
            {
                foreach (var entry in listings[i])
                {
                    if (entry.IsDirectory)
                    {
                        next.Add((level[i].Root, entry.Path));
                        if (depth == 0 && labelSelector is null)
                        {
                            classNames.Add(entry.Name);
                        }
                    }
                    else if (depth > 0 || labelSelector is not null)
                    {
                        // ImageFolder: a file directly in a root belongs to no class and is not a sample.
                        files.Add((level[i].Root, entry));
                    }
                }
            }

            level = next;
        }

        files.Sort((a, b) => a.Root != b.Root ? a.Root.CompareTo(b.Root) : string.CompareOrdinal(a.Entry.Path, b.Entry.Path));
        var classes = classNames.ToArray();
        var fids = new LustreFid[files.Count];
        for (var i = 0; i < fids.Length; i++)
        {
            fids[i] = files[i].Entry.Fid;
        }

        var opened = await client.Session.OpenBatchAsync(fids, cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < files.Count; i++)
        {
            var (root, entry) = files[i];
            var attributes = client.Session.OpenedOrThrow(opened[i], entry.Path, entry.Fid);
            if (attributes.Size > int.MaxValue)
            {
                throw new DatasetFormatException(entry.Path, int.MaxValue, $"a sample is at most {int.MaxValue} bytes; this file holds {attributes.Size}");
            }

            var key = RelativeKey(rootPaths[root], entry.Path);
            var label = labelSelector is null ? Array.BinarySearch(classes, key[..key.IndexOf('/', StringComparison.Ordinal)], StringComparer.Ordinal) : labelSelector(entry.Path);
            if (label < 0)
            {
                throw new ArgumentException($"{nameof(LustreDatasetOptions.LabelSelector)} gave {entry.Path} the label {label}; labels are class indices, 0 or more.", nameof(labelSelector));
            }

            var size = (int)attributes.Size;
            var first = builder.Count;
            builder.BeginShard(entry.Path, DatasetFormat.Folder, entry.Fid);
            builder.AddSample(0, size, key, label);
            builder.AddField(FieldName(entry.Name), 0, size);
            builder.CheckRequired(first, requiredFields);
        }

        return classes;
    }

    /// <summary>The field a file's bytes are: its extension without the dot (<c>001.JPEG</c> → <c>JPEG</c>), else <see cref="DefaultFieldName"/>.</summary>
    public static string FieldName(string fileName)
    {
        var dot = fileName.LastIndexOf('.');
        return dot > 0 && dot < fileName.Length - 1 ? fileName[(dot + 1)..] : DefaultFieldName;
    }

    private static string RelativeKey(string root, string path) => root == "/" ? path[1..] : path[(root.Length + 1)..];
}
