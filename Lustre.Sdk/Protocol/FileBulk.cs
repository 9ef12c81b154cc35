using System.Buffers;
using System.Net.Sockets;

namespace Lustre.Protocol;

/// <summary>
/// A bulk that is a range of a file. <see cref="FrameSender"/> sends it with <c>sendfile(2)</c> on a plain socket
/// (Linux): the kernel hands the page cache's pages to the socket, with no copy into a buffer of ours, and over a
/// local socket the receiver's copy out of them is the only one. Its memory (<see cref="MemoryManager{T}.GetSpan"/>)
/// must still give the bytes, for whatever needs them (TLS, a checksum, a small bulk copied into its frame).
/// </summary>
internal abstract class FileBulk : MemoryManager<byte>
{
    /// <summary>
    /// Sends up to <paramref name="count"/> bytes of the range from <paramref name="start"/> on <paramref name="socket"/>:
    /// the bytes sent, 0 when the socket has no room (a non-blocking socket), -1 when the file ended first (cut
    /// meanwhile). Any other failure throws.
    /// </summary>
    public abstract int SendTo(Socket socket, int start, int count);

    /// <summary>Reads <paramref name="destination"/>'s length of the range from <paramref name="start"/>; a short read (the file was cut) throws.</summary>
    public abstract void Read(int start, Span<byte> destination);
}
