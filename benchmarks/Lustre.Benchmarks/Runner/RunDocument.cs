using System.Globalization;
using System.Text;

namespace Lustre.Benchmarks.Runner;

/// <summary>The Markdown a run writes with <c>--markdown FILE</c>: the exact command, the machine, the run's parameters, the table.</summary>
internal static class RunDocument
{
    /// <summary>
    /// With <c>--markdown FILE</c> (<paramref name="file"/> not null), writes <see cref="Markdown"/> there, the load average
    /// at the start (<paramref name="loadBefore"/>) and now beside the machine, and says so.
    /// </summary>
    public static async Task WriteIfAskedAsync(string? file, string mode, MachineInfo machine, string loadBefore, string run, string[] args, string table)
    {
        if (file is null)
        {
            return;
        }

        var load = $"1-minute load average {loadBefore} at start, {MachineInfo.LoadAverage()} at end";
        await File.WriteAllTextAsync(file, Markdown(mode, machine, load, run, args, table));
        Console.WriteLine($"table written to {file}");
    }

    public static string Markdown(string mode, MachineInfo machine, string load, string run, string[] args, string table)
    {
        var text = new StringBuilder();
        var command = string.Join(' ', [$"dotnet run -c Release --project benchmarks/Lustre.Benchmarks -- {mode}", .. args]);
        text.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}; {load}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Run: {run}; run at {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        text.AppendLine();
        text.Append(table);
        return text.ToString();
    }
}
