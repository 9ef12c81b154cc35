using System.Globalization;
using System.Text;

namespace Lustre.Benchmarks.Runner;

/// <summary>The Markdown a run writes with <c>--markdown FILE</c>: the exact command, the machine, the run's parameters, the table.</summary>
internal static class RunDocument
{
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
