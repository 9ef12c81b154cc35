using Lustre.Client;
using Lustre.Namespace;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary><c>cp -r</c> and <c>mv</c> refuse to put a directory inside itself; as coreutils, by identity (FID), not by name.</summary>
internal static class Subtree
{
    /// <summary>True when <paramref name="path"/>, or the nearest of its parents that exists, is <paramref name="directory"/> or under it.</summary>
    public static async Task<bool> ContainsAsync(LustreClient client, LustreFid directory, string path, CancellationToken cancellationToken)
    {
        for (var current = path; ; current = LustrePath.Parent(current))
        {
            if (await LfsCommands.TryGetInfoAsync(client, current, cancellationToken).ConfigureAwait(false) is { } info && info.Fid == directory)
            {
                return true;
            }

            if (current == "/")
            {
                return false;
            }
        }
    }
}
