namespace Lustre.Server.Mds;

/// <summary>What the MDS knows about one OST when it places a new file's objects.</summary>
/// <param name="Index">The OST index.</param>
/// <param name="Active">False when the OST is down or deactivated; it then gets no new objects.</param>
/// <param name="TotalBytes">The OST's capacity.</param>
/// <param name="AvailableBytes">The bytes still free for new data.</param>
/// <param name="Server">The address of the OSS serving it: OSTs with the same one fail together, so mirrors avoid sharing it.</param>
internal readonly record struct OstUsage(int Index, bool Active, long TotalBytes, long AvailableBytes, string Server = "");
