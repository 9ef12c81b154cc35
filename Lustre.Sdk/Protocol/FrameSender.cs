using System.Net.Sockets;

namespace Lustre.Protocol;

/// <summary>
/// Sends whole frames on a socket, one at a time: header and body in one send and, for a large
/// bulk, the caller's memory in a second send with no copy.
/// </summary>
internal sealed class FrameSender : IDisposable
{
    private readonly Socket _socket;
    private readonly SemaphoreSlim _lock = new(1, 1);

    public FrameSender(Socket socket) => _socket = socket;

    /// <summary>Stamps <paramref name="header"/> into <paramref name="frame"/> and sends it with <paramref name="bulk"/>.</summary>
    public async ValueTask SendAsync(FrameBuffer frame, FrameHeader header, ReadOnlyMemory<byte> bulk, CancellationToken cancellationToken)
    {
        frame.SetHeader(header);
        var bodyEnd = frame.Length;
        var inline = bulk.Length <= FrameBuffer.InlineBulkLimit;
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (inline && !bulk.IsEmpty)
            {
                frame.Append(bulk.Span);
            }

            // Once a frame has started it must finish, or the stream is torn: only the wait is cancellable.
            await SendAllAsync(frame.Written).ConfigureAwait(false);
            if (!inline)
            {
                await SendAllAsync(bulk).ConfigureAwait(false);
            }
        }
        finally
        {
            frame.TrimTo(bodyEnd);
            _lock.Release();
        }
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None).ConfigureAwait(false);
            bytes = bytes[sent..];
        }
    }

    public void Dispose() => _lock.Dispose();
}
