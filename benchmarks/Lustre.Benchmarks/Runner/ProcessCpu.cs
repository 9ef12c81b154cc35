using System.Diagnostics;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// The CPU time (user + system: utime + stime of /proc/PID/stat on Linux) of other processes, for a phase whose work
/// runs in child processes that <see cref="PhaseMeter"/>, which measures this process, does not see.
/// </summary>
internal static class ProcessCpu
{
    /// <summary>The CPU time <paramref name="processes"/> have used so far, summed; throws when one of them has exited.</summary>
    public static TimeSpan Total(IEnumerable<Process> processes)
    {
        var total = TimeSpan.Zero;
        foreach (var process in processes)
        {
            process.Refresh();
            total += process.TotalProcessorTime;
        }

        return total;
    }
}
