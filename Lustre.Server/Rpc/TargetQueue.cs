using System.Threading.Channels;
using Lustre.Server.Diagnostics;

namespace Lustre.Server.Rpc;

/// <summary>
/// The requests waiting for one target (an OST, the MDT, or the MGS and control opcodes), as a Lustre service has
/// its own request queue and threads: a bounded channel served by a fixed number of workers. A slow request holds
/// one worker of its own target only, so other targets, and the other workers of this one, go on.
/// </summary>
internal sealed class TargetQueue : IAsyncDisposable
{
    private readonly Channel<RpcRequest> _channel;
    private readonly Task[] _workers;

    /// <param name="server">The server's name, a tag of the target's metrics.</param>
    /// <param name="name">The target, e.g. "OST0001", "MDT0000" or "control"; a tag of its metrics and spans.</param>
    /// <param name="capacity">Requests that may wait; a session that finds the queue full stops reading its socket until one leaves.</param>
    /// <param name="workers">Requests of this target that run at once.</param>
    public TargetQueue(string server, string name, int capacity, int workers)
    {
        Server = server;
        Name = name;
        _channel = Channel.CreateBounded<RpcRequest>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = workers == 1,
        });
        _workers = new Task[workers];
        // Workers start without the starter's execution context: an activity current there is no parent of requests.
        using (ExecutionContext.SuppressFlow())
        {
            for (var i = 0; i < workers; i++)
            {
                _workers[i] = Task.Run(RunAsync);
            }
        }

        ServerDiagnostics.Register(this);
    }

    public string Server { get; }

    public string Name { get; }

    /// <summary>Requests waiting for a worker.</summary>
    public int Depth => _channel.Reader.Count;

    /// <summary>Queues <paramref name="request"/>, whose <see cref="RpcRequest.Session"/> runs it; waits while the queue is full.</summary>
    public ValueTask EnqueueAsync(RpcRequest request, CancellationToken cancellationToken) =>
        _channel.Writer.TryWrite(request) ? ValueTask.CompletedTask : _channel.Writer.WriteAsync(request, cancellationToken);

    private async Task RunAsync()
    {
        var reader = _channel.Reader;
        while (true)
        {
            RpcRequest request;
            try
            {
                // ReadAsync, not WaitToReadAsync: a write hands its request to one waiting worker instead of waking all.
                request = await reader.ReadAsync().ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return;
            }

            await request.Session!.ProcessAsync(request).ConfigureAwait(false);
        }
    }

    /// <summary>Takes no more requests, runs those already queued, and waits for the workers to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await Task.WhenAll(_workers).ConfigureAwait(false);
        ServerDiagnostics.Unregister(this);
    }
}
