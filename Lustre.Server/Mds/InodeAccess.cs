using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>
/// What a permission check needs of an inode: its type, mode bits and owner. A path walk reads it from each directory's
/// stored record in place (<see cref="MdtStore.GetAccess"/>), so a lookup makes no inode object per component.
/// </summary>
internal readonly record struct InodeAccess(EntryType Type, uint Mode, uint Uid, uint Gid);
