using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Lustre.Tests.Cluster;

/// <summary>A `lustre` server running as a child process, with its output captured line by line.</summary>
internal sealed partial class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _newLine = new(0);

    private ServerProcess(Process process) => _process = process;

    public int Id => _process.Id;

    /// <summary>The process's resident memory (VmRSS), in bytes; 0 once it is gone.</summary>
    public long ResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    public static ServerProcess Start(params string[] args) => StartAssembly("lustre.dll", args);

    /// <summary>Starts `lustre` with extra environment variables (e.g. LUSTRE_SECRET).</summary>
    public static ServerProcess StartWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        StartAssembly("lustre.dll", args, environment: environment);

    /// <summary>Starts <c>lustre ARGS</c> inside a network namespace (<c>ip netns exec NETNS dotnet lustre.dll ARGS</c>).</summary>
    public static ServerProcess StartIn(string netns, params string[] args) => StartAssembly("lustre.dll", args, netns);

    /// <summary>Runs another app built next to the tests (such as a sample) as a child process, inside <paramref name="netns"/> when given.</summary>
    /// <summary>The dotnet host that runs the apps built next to the tests.</summary>
    public static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    public static ServerProcess StartAssembly(string dll, string[] args, string? netns = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var lustreDll = Path.Combine(AppContext.BaseDirectory, dll);
        var dotnet = Dotnet;
        var info = new ProcessStartInfo(netns is null ? dotnet : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        if (netns is not null)
        {
            // ip execs the command in place, so the process id is dotnet's and SIGTERM reaches the server.
            foreach (var arg in (string[])["netns", "exec", netns, dotnet])
            {
                info.ArgumentList.Add(arg);
            }
        }

        info.ArgumentList.Add(lustreDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process);
        process.OutputDataReceived += (_, e) => server.Add(e.Data);
        process.ErrorDataReceived += (_, e) => server.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            _lines.Add(line);
        }

        _newLine.Release();
    }

    /// <summary>Waits until a line matches; fails with the captured output when the process exits or time runs out.</summary>
    public async Task<Match> WaitForLineAsync(Regex pattern, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var seen = 0;
        var drained = false;
        while (true)
        {
            lock (_lock)
            {
                for (; seen < _lines.Count; seen++)
                {
                    var match = pattern.Match(_lines[seen]);
                    if (match.Success)
                    {
                        return match;
                    }
                }
            }

            if (drained)
            {
                throw new InvalidOperationException($"lustre exited with {_process.ExitCode} before printing /{pattern}/:\n{Output}");
            }

            if (_process.HasExited)
            {
                // Its last lines may still be on their way from the output readers: WaitForExit() returns once both
                // streams reached their end, then the lines are looked through once more.
                _process.WaitForExit();
                drained = true;
                continue;
            }

            try
            {
                await _newLine.WaitAsync(TimeSpan.FromMilliseconds(200), cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"lustre did not print /{pattern}/ within {timeout}:\n{Output}");
            }
        }
    }

    /// <summary>Waits for `lustre: serving ADDRESS` and returns the address.</summary>
    public async Task<string> WaitForAddressAsync() =>
        (await WaitForLineAsync(ServingLine(), TimeSpan.FromSeconds(60))).Groups[1].Value;

    public Task WaitUntilUpAsync() => WaitForLineAsync(UpLine(), TimeSpan.FromSeconds(60));

    /// <summary>Sends SIGTERM and waits for a clean exit.</summary>
    public async Task<int> TerminateAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: the process gets no chance to flush or close anything.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
        _newLine.Dispose();
    }

    [GeneratedRegex(@"^lustre: serving (\S+)$")]
    private static partial Regex ServingLine();

    [GeneratedRegex(@" up on ")]
    private static partial Regex UpLine();
}
