using System.Runtime.InteropServices;

namespace Lustre.Cli;

/// <summary>Completes when the process is asked to stop (Ctrl-C or SIGTERM), so servers can shut down cleanly.</summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly TaskCompletionSource<string> _signalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PosixSignalRegistration _term;
    private readonly PosixSignalRegistration _interrupt;

    public ShutdownSignal()
    {
        _term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    }

    /// <summary>The name of the signal that arrived.</summary>
    public Task<string> Signalled => _signalled.Task;

    private void OnSignal(PosixSignalContext context)
    {
        // Keep the process alive: the server stops itself once the task completes.
        context.Cancel = true;
        _signalled.TrySetResult(context.Signal.ToString());
    }

    public void Dispose()
    {
        _term.Dispose();
        _interrupt.Dispose();
    }
}
