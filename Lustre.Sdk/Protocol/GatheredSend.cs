using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Lustre.Protocol;

/// <summary>
/// A gathered send (one <c>sendmsg</c> of many segments) that can be awaited again and again without allocating:
/// <see cref="Socket.SendAsync(IList{ArraySegment{byte}}, SocketFlags)"/> returns a new <c>Task</c> each time. One per
/// <see cref="FrameSender"/>, used by its single writer at a time.
/// </summary>
internal sealed class GatheredSend : SocketAsyncEventArgs, IValueTaskSource<int>
{
    private ManualResetValueTaskSourceCore<int> _core;

    public GatheredSend()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        // The continuation runs on the thread that completed the send, as a socket's own ValueTask sends do.
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>Sends what it can of <paramref name="segments"/>; the bytes sent, as <see cref="Socket.SendAsync(IList{ArraySegment{byte}}, SocketFlags)"/>.</summary>
    public ValueTask<int> SendAsync(Socket socket, IList<ArraySegment<byte>> segments)
    {
        _core.Reset();
        BufferList = segments;
        if (socket.SendAsync(this))
        {
            return new ValueTask<int>(this, _core.Version);
        }

        BufferList = null;
        return SocketError == SocketError.Success ? new ValueTask<int>(BytesTransferred) : ValueTask.FromException<int>(new SocketException((int)SocketError));
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        try
        {
            BufferList = null;
        }
        catch (ObjectDisposedException)
        {
            // Disposed (its sender closed) while this send was in flight: the event args free themselves as the send
            // completes, before this runs, and then refuse any change. Throwing here would end the process (this runs
            // on a thread-pool thread); the send has failed anyway, and its result still reaches the writer below.
        }

        if (SocketError == SocketError.Success)
        {
            _core.SetResult(BytesTransferred);
        }
        else
        {
            _core.SetException(new SocketException((int)SocketError));
        }
    }

    public int GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
