using System.CommandLine;
using Lustre.Client;

namespace Lustre.Cli;

/// <summary>
/// What one client command runs with: the output and error writers of the invocation (so tests can capture
/// them), the cluster client (made on first use) and Lustre-style error reporting.
/// </summary>
internal sealed class CliSession : IAsyncDisposable
{
    private readonly string? _address;
    private readonly string _prefix;
    private LustreClient? _client;

    public CliSession(ParseResult parse, string tool, string command, string? address)
    {
        var configuration = parse.InvocationConfiguration;
        Out = configuration.Output;
        Error = configuration.Error;
        _address = address;
        _prefix = $"{tool}: {command}";
    }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    /// <summary>True when standard output is a terminal that this command writes to (progress bars make sense).</summary>
    public bool IsInteractive => ReferenceEquals(Out, Console.Out) && !Console.IsOutputRedirected;

    public LustreClient Client => _client ??= _address is null
        ? throw new MissingAddressException()
        : new LustreClient(_address, ClientCommand.ClientOptions());

    public string Address => _address ?? string.Empty;

    /// <summary>
    /// Fetches the cluster's configuration from the MGS, so that a cluster that refuses this client (wrong or missing
    /// secret, another filesystem name) is reported once as such, not as an error of the first path.
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Client.Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new ClusterRefusedException($"{ex.Message.TrimEnd('.')}; the command line reads the secret from {SecretLoader.EnvironmentVariable}", ex);
        }
        catch (LustreException ex) when (!ex.IsTransient)
        {
            throw new ClusterRefusedException(ex.Message, ex);
        }
    }

    /// <summary>Writes <c>tool: command: 'path': reason</c> and returns 1, the exit code of a failed command.</summary>
    public int Fail(string path, Exception exception)
    {
        if (CliErrors.IsUnreachable(exception))
        {
            throw new ClusterUnreachableException(exception);
        }

        Error.WriteLine($"{_prefix}: '{path}': {CliErrors.Reason(exception)}");
        return 1;
    }

    /// <summary>Writes <c>tool: command: message</c> and returns <paramref name="exitCode"/>.</summary>
    public int Fail(string message, int exitCode = 1)
    {
        Error.WriteLine($"{_prefix}: {message}");
        return exitCode;
    }

    public void Warn(string message) => Error.WriteLine($"{_prefix}: warning: {message}");

    /// <summary>
    /// A stream onto standard output for file bytes (<c>cat</c>): the process's own stdout, or, when the output
    /// writer was replaced (tests), a buffer whose bytes go to that writer as UTF-8 text when disposed.
    /// </summary>
    public Stream OpenStandardOutput() => ReferenceEquals(Out, Console.Out)
        ? Console.OpenStandardOutput()
        : new TextWriterStream(Out);

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class TextWriterStream(TextWriter writer) : MemoryStream
    {
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                writer.Write(System.Text.Encoding.UTF8.GetString(GetBuffer(), 0, (int)Length));
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>No --mgs option and no LUSTRE_MGS variable, and the command needs the cluster.</summary>
internal sealed class MissingAddressException : Exception
{
    public MissingAddressException()
        : base($"no cluster given: use --mgs ADDRESS or set {ClientCommand.MgsEnvironmentVariable} (e.g. 127.0.0.1:9880/lustre)")
    {
    }
}

/// <summary>The cluster answered but refused this client (authentication, filesystem name): the command stops with one line.</summary>
internal sealed class ClusterRefusedException(string message, Exception inner) : Exception(message, inner);

/// <summary>The cluster did not answer at all: the command stops with one line, not one per path.</summary>
internal sealed class ClusterUnreachableException(Exception inner) : Exception(inner.Message, inner);
