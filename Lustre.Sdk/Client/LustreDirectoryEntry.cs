using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>One entry of a directory listing.</summary>
/// <param name="Path">The full path of the entry.</param>
/// <param name="Name">The entry's name in its directory.</param>
/// <param name="IsDirectory">True for a subdirectory.</param>
/// <param name="Fid">The entry's file identifier.</param>
public sealed record LustreDirectoryEntry(string Path, string Name, bool IsDirectory, LustreFid Fid);
