using System.Diagnostics;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// A child process of this same binary that the runner drives with lines on its stdin and that answers with lines
/// on its stdout (<c>ready</c>, <c>done …</c>, or <c>error …</c>), as <c>io500 --processes N</c> and
/// <c>dataset --world-size N</c> use them.
/// </summary>
internal static class ChildProcess
{
    /// <summary>Starts this binary again with <paramref name="args"/> and <paramref name="environment"/> added to this process's.</summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = StartInfo(typeof(ChildProcess).Assembly.Location, args);
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
    }

    /// <summary>
    /// How to run <paramref name="assembly"/>, an app built into this folder (this binary, or <c>lustre.dll</c>): its
    /// apphost beside it, or <c>dotnet exec</c> with the assembly when this process was started through the muxer.
    /// </summary>
    public static ProcessStartInfo StartInfo(string assembly, IEnumerable<string> args)
    {
        var host = Environment.ProcessPath ?? "dotnet";
        var viaMuxer = Path.GetFileNameWithoutExtension(host) == "dotnet";
        var start = new ProcessStartInfo(viaMuxer ? host : Path.ChangeExtension(assembly, OperatingSystem.IsWindows() ? ".exe" : null)) { UseShellExecute = false };
        if (viaMuxer)
        {
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(assembly);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    /// <summary>Sends one line.</summary>
    public static async Task SendAsync(Process child, string line)
    {
        await child.StandardInput.WriteLineAsync(line);
        await child.StandardInput.FlushAsync();
    }

    /// <summary>The rest of the child's next line after <paramref name="word"/>; its <c>error …</c> line or its exit as an exception naming <paramref name="what"/>.</summary>
    public static async Task<string> ExpectAsync(Process child, string word, string what)
    {
        var line = await child.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException($"{what} {child.Id} exited (code {(child.HasExited ? child.ExitCode : -1)}).");
        if (line.StartsWith("error ", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what} {child.Id}: {line[6..]}");
        }

        if (!line.StartsWith(word, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{what} {child.Id} said '{line}', expected '{word}'.");
        }

        return line[word.Length..].Trim();
    }

    /// <summary>Closes the children's stdin (their signal to finish) and waits up to 30 s for each to exit.</summary>
    public static async Task StopAsync(IEnumerable<Process> children)
    {
        var all = children.ToList();
        foreach (var child in all)
        {
            child.StandardInput.Close();
        }

        foreach (var child in all)
        {
            try
            {
                await child.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                child.Kill(entireProcessTree: true);
            }

            child.Dispose();
        }
    }
}
