using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Namespace;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>One side of a <c>cp</c>: a local path, a cluster path (<c>lustre:/...</c>) or standard input (<c>-</c>).</summary>
internal sealed class CopyLocation
{
    private readonly LustreClient? _client;

    private CopyLocation(string path, LustreClient? client, bool isStandardInput)
    {
        Path = path;
        _client = client;
        IsStandardInput = isStandardInput;
    }

    /// <summary>The local full path or the cluster path.</summary>
    public string Path { get; }

    public bool IsCluster => _client is not null;

    public bool IsStandardInput { get; }

    /// <summary>As the user would write it: <c>lustre:/a/b</c> for the cluster.</summary>
    public string Display => IsStandardInput ? "-" : IsCluster ? ClusterPath.Prefix + Path : Path;

    public string Name => IsCluster ? LustrePath.FileName(Path) : System.IO.Path.GetFileName(Path);

    public static CopyLocation Parse(string argument, Func<LustreClient> client) =>
        argument == "-" ? new CopyLocation("-", null, isStandardInput: true)
        : ClusterPath.IsCluster(argument) ? new CopyLocation(ClusterPath.Normalize(argument), client(), isStandardInput: false)
        : new CopyLocation(System.IO.Path.GetFullPath(argument), null, isStandardInput: false);

    public CopyLocation Child(string name) => IsCluster
        ? new CopyLocation(LustrePath.Combine(Path, name), _client, isStandardInput: false)
        : new CopyLocation(System.IO.Path.Combine(Path, name), null, isStandardInput: false);

    /// <summary>Whether it exists, is a directory, its length, and (in the cluster) its FID.</summary>
    public async Task<(bool Exists, bool IsDirectory, long Length, LustreFid? Fid)> StatAsync(CancellationToken cancellationToken)
    {
        if (IsStandardInput)
        {
            return (true, false, -1, null);
        }

        if (_client is not null)
        {
            var info = await LfsCommands.TryGetInfoAsync(_client, Path, cancellationToken).ConfigureAwait(false);
            return info is null ? (false, false, 0, null) : (true, info.IsDirectory, info.Length, info.Fid);
        }

        return Directory.Exists(Path) ? (true, true, 0, null)
            : File.Exists(Path) ? (true, false, new FileInfo(Path).Length, null)
            : (false, false, 0, null);
    }

    public async IAsyncEnumerable<(string Name, bool IsDirectory)> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_client is not null)
        {
            await foreach (var entry in _client.EnumerateDirectoryAsync(Path, cancellationToken).ConfigureAwait(false))
            {
                yield return (entry.Name, entry.IsDirectory);
            }

            yield break;
        }

        foreach (var entry in new DirectoryInfo(Path).EnumerateFileSystemInfos())
        {
            yield return (entry.Name, entry is DirectoryInfo);
        }
    }

    public async Task CreateDirectoryAsync(CancellationToken cancellationToken)
    {
        if (_client is null)
        {
            Directory.CreateDirectory(Path);
            return;
        }

        try
        {
            await _client.CreateDirectoryAsync(Path, cancellationToken).ConfigureAwait(false);
        }
        catch (LustreServerException ex) when (ex.Errno == LustreErrno.EEXIST)
        {
            // Copying into an existing directory is fine, as cp -r.
        }
    }

    public async Task<ICopySource> OpenReadAsync(CancellationToken cancellationToken) =>
        IsStandardInput ? new StreamSource(Console.OpenStandardInput())
        : _client is not null ? new ClusterSource(await _client.OpenFileAsync(Path, FileMode.Open, access: FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false))
        : new LocalSource(Path);

    public async Task<ICopyDestination> OpenWriteAsync(CancellationToken cancellationToken) =>
        _client is not null
            ? new ClusterDestination(await _client.OpenFileAsync(Path, FileMode.Create, cancellationToken: cancellationToken).ConfigureAwait(false))
            : new LocalDestination(Path);
}
