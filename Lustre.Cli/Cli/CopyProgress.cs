using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Lustre.Cli;

/// <summary>
/// How <c>cp</c> shows progress: a Spectre.Console bar per running file and one for the total (bytes, rate,
/// ETA) on a terminal; one plain line per finished file and a summary when output is redirected.
/// </summary>
internal abstract class CopyProgress
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Runs the copy, showing progress; <paramref name="totalBytes"/> is -1 when unknown (standard input).</summary>
    public abstract Task<T> RunAsync<T>(long totalBytes, Func<Task<T>> copy);

    /// <summary>Called when a file starts; the returned action counts its bytes as they land.</summary>
    public abstract Action<long> StartFile(string label, long length);

    public abstract void FinishFile(string source, string destination, long bytes, TimeSpan elapsed);

    public static string Rate(long bytes, TimeSpan elapsed) =>
        DfPrinter.Size((long)(bytes / Math.Max(elapsed.TotalSeconds, 1e-3)), human: true) + "/s";

    public static string Summary(int files, long bytes, TimeSpan elapsed) => string.Create(
        CultureInfo.InvariantCulture, $"{files} file{(files == 1 ? string.Empty : "s")}, {DfPrinter.Size(bytes, human: true)} ({bytes} bytes) in {elapsed.TotalSeconds:0.00} s, {Rate(bytes, elapsed)}");

    /// <summary>Plain lines for logs and pipes.</summary>
    internal sealed class Plain(TextWriter writer) : CopyProgress
    {
        private readonly Lock _lock = new();

        public override Task<T> RunAsync<T>(long totalBytes, Func<Task<T>> copy) => copy();

        public override Action<long> StartFile(string label, long length) => static _ => { };

        public override void FinishFile(string source, string destination, long bytes, TimeSpan elapsed)
        {
            lock (_lock)
            {
                writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"'{source}' -> '{destination}' {bytes} bytes {Rate(bytes, elapsed)}"));
            }
        }
    }

    /// <summary>Live bars on the terminal.</summary>
    internal sealed class Bars : CopyProgress
    {
        private ProgressContext? _context;
        private ProgressTask? _total;

        public override async Task<T> RunAsync<T>(long totalBytes, Func<Task<T>> copy)
        {
            var progress = AnsiConsole.Progress()
                .AutoClear(false)
                .HideCompleted(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn());
            return await progress.StartAsync(async context =>
            {
                _context = context;
                _total = context.AddTask("total", maxValue: Math.Max(totalBytes, 1));
                _total.IsIndeterminate = totalBytes < 0;
                var result = await copy().ConfigureAwait(false);
                _total.Value = _total.MaxValue;
                _total.StopTask();
                return result;
            }).ConfigureAwait(false);
        }

        public override Action<long> StartFile(string label, long length)
        {
            var task = _context!.AddTask(Markup.Escape(Shorten(label)), maxValue: Math.Max(length, 1));
            task.IsIndeterminate = length < 0;
            var total = _total!;
            return bytes =>
            {
                task.Increment(bytes);
                total.Increment(bytes);
            };
        }

        public override void FinishFile(string source, string destination, long bytes, TimeSpan elapsed)
        {
        }

        private static string Shorten(string label) => label.Length <= 40 ? label : "…" + label[^39..];
    }
}
