using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Scale;

/// <summary>
/// One <c>lustre serve</c> process (the <c>lustre</c> app is built into this folder): its output is read line by line,
/// the last lines kept for a failure message, and watched for the log line that says the server is up and where.
/// </summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private const int KeptLines = 40;

    private readonly ConcurrentQueue<string> _lines = new();
    private readonly TaskCompletionSource<string> _up = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(string name, Process process)
    {
        Name = name;
        Process = process;
    }

    /// <summary>The role and index, e.g. <c>oss3</c>, for messages.</summary>
    public string Name { get; }

    public Process Process { get; }

    /// <summary>Starts <c>lustre serve ARGS</c>.</summary>
    public static ServerProcess Start(string name, IEnumerable<string> args)
    {
        var start = ChildProcess.StartInfo(Path.Combine(AppContext.BaseDirectory, "lustre.dll"), ["serve", .. args]);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        var server = new ServerProcess(name, new Process { StartInfo = start });
        server.Process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        server.Process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        server.Process.Start();
        server.Process.BeginOutputReadLine();
        server.Process.BeginErrorReadLine();
        return server;
    }

    /// <summary>The endpoint (HOST:PORT) of its <c>ROLES up on HOST:PORT, data in DIR</c> log line, which every role writes once it listens.</summary>
    public async Task<string> WaitUntilUpAsync(TimeSpan timeout)
    {
        try
        {
            return await _up.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} did not say it was up within {timeout.TotalSeconds:0} s; its last lines:\n{string.Join('\n', _lines)}");
        }
    }

    /// <summary>Kills the process (its data is deleted next: there is nothing to keep) and waits up to 10 s for it to go.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"could not stop {Name} ({Process.Id}): {ex.Message}");
        }

        Process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            _up.TrySetException(new InvalidOperationException($"{Name} closed its output before it was up; its last lines:\n{string.Join('\n', _lines)}"));
            return;
        }

        _lines.Enqueue(line);
        while (_lines.Count > KeptLines && _lines.TryDequeue(out _))
        {
        }

        if (UpLine().Match(line) is { Success: true } match)
        {
            _up.TrySetResult(match.Groups[1].Value);
        }
    }

    [GeneratedRegex(@" up on (\S+), data in ")]
    private static partial Regex UpLine();
}
