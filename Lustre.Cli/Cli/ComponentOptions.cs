using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lfs setstripe --component-add</c> and <c>--component-del</c> on existing PFL files, with lfs's option names
/// (<c>--comp-add</c>, <c>--comp-del</c>, <c>-I</c>/<c>--comp-id</c>, <c>--comp-flags</c>), checks and messages.
/// </summary>
internal sealed class ComponentOptions
{
    public Option<bool> Add { get; } = new("--component-add", "--comp-add") { Description = "Append the -E components to an existing PFL file whose layout ends before EOF" };

    public Option<bool> Delete { get; } = new("--component-del", "--comp-del") { Description = "Delete components of an existing PFL file, chosen by -I or --component-flags (only components without objects, from the end)" };

    public Option<string?> Id { get; } = new("--component-id", "--comp-id", "-I") { Description = "The component to delete: its lcme_id, as getstripe prints it", HelpName = "COMP_ID" };

    public Option<string?> Flags { get; } = new("--component-flags", "--comp-flags") { Description = "The components to delete by flag: ^init (those without objects)", HelpName = "COMP_FLAGS" };

    public IEnumerable<Symbol> Symbols => [Add, Delete, Id, Flags];

    /// <summary>True when --component-add or --component-del was given: the command changes existing files.</summary>
    public bool AnyGiven(ParseResult parse) => parse.GetValue(Add) || parse.GetValue(Delete);

    /// <summary>
    /// The usage errors lfs reports before touching any file (exit 2), or null. <paramref name="delete"/> is
    /// setstripe's <c>-d</c>.
    /// </summary>
    public string? UsageError(ParseResult parse, bool delete, MirrorOptions mirror)
    {
        var adding = parse.GetValue(Add);
        var deleting = parse.GetValue(Delete);
        if ((adding ? 1 : 0) + (deleting ? 1 : 0) + (delete ? 1 : 0) > 1)
        {
            return "options --component-del, --component-add and -d are mutually exclusive";
        }

        var id = parse.GetValue(Id);
        var flags = parse.GetValue(Flags);
        if (!deleting && id is not null)
        {
            return "option -I can only be used with --component-del";
        }

        if (!deleting && flags is not null)
        {
            return "option --component-flags can only be used with --component-del";
        }

        if (!adding && !deleting)
        {
            return null;
        }

        if (mirror.AnyGiven(parse))
        {
            return "can't use --component-add or --component-del for mirror operation";
        }

        if (deleting && mirror.Layout.AnyGiven(parse))
        {
            return "option --component-del is mutually exclusive with -c, -E, -i and -S";
        }

        if (deleting && id is not null && flags is not null)
        {
            return "options -I and --component-flags are mutually exclusive when used with --component-del";
        }

        if (deleting && id is null && flags is null)
        {
            return "neither flags nor component ID is specified";
        }

        if (adding && parse.GetResult(mirror.Layout.ComponentEnd) is null)
        {
            return "option -E must be specified with --component-add";
        }

        try
        {
            _ = id is null ? 0 : ParseId(id);
            _ = flags is null ? false : ParseUninstantiated(flags);
        }
        catch (FormatException ex)
        {
            return ex.Message;
        }

        return null;
    }

    /// <summary>Adds or deletes the components of one file; returns the exit code (failures are reported as lfs words them).</summary>
    public async Task<int> RunAsync(CliSession session, ParseResult parse, LayoutOptions layout, string path, CancellationToken cancellationToken)
    {
        var adding = parse.GetValue(Add);
        try
        {
            var info = await session.Client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
            if (info.IsDirectory)
            {
                return session.Fail("cannot use --component-add or --component-del for directory", exitCode: 2);
            }

            var current = info.Layout!;
            if (adding)
            {
                if (!current.IsComposite)
                {
                    return session.Fail($"'{path}' not a composite file");
                }

                if (current.IsMirrored)
                {
                    // As Lustre's MDS answers it: a mirrored file's components change with lfs mirror extend and split.
                    return session.Fail($"Add layout component(s) to {path} failed. {CliErrors.Describe(LustreErrno.EBUSY)} (a mirrored file: add a mirror with lfs mirror extend instead)");
                }

                if (current.End == LayoutComponent.Eof)
                {
                    return session.Fail($"Add layout component(s) to {path} failed. {CliErrors.Describe(LustreErrno.EINVAL)} (its last component already extends to EOF: delete it first, if it has no objects)");
                }

                var components = layout.BuildComponents(parse, current.End);
                await LfsCommands.WarnIfCappedAsync(session, LayoutOptions.LargestCount(components), cancellationToken).ConfigureAwait(false);
                await session.Client.AddLayoutComponentsAsync(path, components, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            var id = parse.GetValue(Id);
            if (id is not null)
            {
                await session.Client.DeleteLayoutComponentAsync(path, (int)ParseId(id), cancellationToken).ConfigureAwait(false);
            }
            else if (ParseUninstantiated(parse.GetValue(Flags)!))
            {
                await session.Client.DeleteUninstantiatedLayoutComponentsAsync(path, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                return session.Fail($"cannot delete components with flags 'init' from '{path}': only components without objects can be deleted (--component-flags ^init), so no written byte is lost");
            }

            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or FormatException)
        {
            if (CliErrors.IsUnreachable(ex) || ex is FileNotFoundException)
            {
                return session.Fail(path, ex);
            }

            var reason = ex is LustreServerException { Errno: not LustreErrno.EINVAL } server && server.ServerMessage.Length > 0
                ? $"{CliErrors.Describe(server.Errno)} ({server.ServerMessage})"
                : CliErrors.Reason(ex);
            var id = parse.GetValue(Id);
            return adding ? session.Fail($"Add layout component(s) to {path} failed. {reason}")
                : session.Fail(string.Create(CultureInfo.InvariantCulture, $"cannot delete component {(id is null ? "0" : "0x" + ParseId(id).ToString("x", CultureInfo.InvariantCulture))} from '{path}': {reason}"));
        }
    }

    /// <summary>A component id as lfs reads it (<c>strtoul</c> base 0: decimal, or hexadecimal after 0x): 1 to Lustre's LCME_ID_MAX.</summary>
    private static long ParseId(string text)
    {
        var hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        return long.TryParse(hex ? text.AsSpan(2) : text, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id is >= 1 and <= 0xFFFEFFFF
            ? id
            : throw new FormatException($"invalid component ID '{text}'");
    }

    /// <summary>
    /// Reads <c>--component-flags</c> for a delete: true for <c>^init</c>, false for <c>init</c>. Other lfs flags (stale,
    /// prefer, ...) select mirrors' components, which a file here without mirrors does not have.
    /// </summary>
    private static bool ParseUninstantiated(string text) => text switch
    {
        "^init" => true,
        "init" => false,
        _ => throw new FormatException($"component flag '{text}' not supported with --component-del: use init or ^init"),
    };
}
