using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Lustre.Client;

/// <summary>
/// The job id a client sends with its connections, so that every target counts its requests per job (Lustre's
/// <c>jobid_var</c> and <c>jobid_name</c>, lustre/obdclass/jobid.c). In order: <see cref="LustreClientOptions.JobId"/>;
/// else the environment variable <see cref="LustreClientOptions.JobIdVariable"/> names (by default the first set of
/// <see cref="SchedulerVariables"/>); else <see cref="LustreClientOptions.JobIdName"/> expanded, as Lustre falls back to
/// <c>jobid_name</c> when the variable is not set. <c>disable</c> sends none; <c>procname_uid</c> is <c>%e.%u</c>;
/// <c>nodelocal</c> is <c>jobid_name</c> itself.
/// </summary>
internal static class JobIds
{
    /// <summary>Lustre's LUSTRE_JOBID_SIZE is 32 bytes with the NUL: a job id has at most 31.</summary>
    public const int MaxLength = 31;

    public const string Disable = "disable";
    public const string ProcnameUid = "procname_uid";
    public const string NodeLocal = "nodelocal";

    /// <summary>What <c>jobid_var</c> shows when <see cref="LustreClientOptions.JobIdVariable"/> is not set: <see cref="SchedulerVariables"/> are read.</summary>
    public const string Auto = "auto";

    /// <summary>
    /// The variables read when <see cref="LustreClientOptions.JobIdVariable"/> is not set: <c>LUSTRE_JOBID</c> (set by a
    /// user or a launcher for Lustre), then the job ids of the schedulers Lustre's job stats name: SLURM, SGE
    /// (<c>JOB_ID</c>), LSF, LoadLeveler, PBS/Torque/MOAB, and Cray ALPS.
    /// </summary>
    public static readonly string[] SchedulerVariables = ["LUSTRE_JOBID", "SLURM_JOB_ID", "JOB_ID", "LSB_JOBID", "LOADL_STEP_ID", "PBS_JOBID", "ALPS_APP_ID"];

    /// <summary>The job id, and the <c>jobid_var</c> it came from as lctl shows it.</summary>
    public static (string JobId, string Variable) Resolve(LustreClientOptions options, Func<string, string?> environment)
    {
        if (options.JobId is { } explicitId)
        {
            // Lustre's nodelocal: jobid_name is the job id.
            return (explicitId, NodeLocal);
        }

        var variable = options.JobIdVariable;
        switch (variable)
        {
            case Disable:
                return (string.Empty, Disable);
            case ProcnameUid:
                return (Expand("%e.%u", environment), ProcnameUid);
            case NodeLocal:
                return (Expand(options.JobIdName, environment), NodeLocal);
            case null:
                if (!options.JobIdName.Contains("%j", StringComparison.Ordinal) && JobVariable(environment, null) is { Length: > 0 } value)
                {
                    return (Truncate(value), Auto);
                }

                return (Expand(options.JobIdName, environment), Auto);
            default:
                return environment(variable) is { Length: > 0 } found && !options.JobIdName.Contains("%j", StringComparison.Ordinal)
                    ? (Truncate(found), variable)
                    : (Expand(options.JobIdName, environment, variable), variable);
        }
    }

    /// <summary>
    /// <c>jobid_name</c>'s escapes, as jobid_interpret_string: <c>%e</c> the executable, <c>%u</c> the uid, <c>%g</c> the
    /// gid, <c>%h</c> the host name, <c>%H</c> its first label, <c>%p</c> the pid, <c>%j</c> the job id variable's value;
    /// <c>%.N</c> keeps N characters of a field; other escapes are dropped, as are spaces.
    /// </summary>
    public static string Expand(string format, Func<string, string?> environment, string? variable = null)
    {
        var result = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (char.IsWhiteSpace(c))
            {
                continue;
            }

            if (c != '%')
            {
                result.Append(c);
                continue;
            }

            var width = int.MaxValue;
            if (i + 1 < format.Length && format[i + 1] == '.')
            {
                var start = i + 2;
                var end = start;
                while (end < format.Length && char.IsAsciiDigit(format[end]))
                {
                    end++;
                }

                if (end > start && int.TryParse(format.AsSpan(start, end - start), NumberStyles.None, CultureInfo.InvariantCulture, out var w) && w > 0)
                {
                    width = w;
                }

                i = end - 1;
            }

            if (++i >= format.Length)
            {
                break;
            }

            var field = format[i] switch
            {
                'e' => ProcessName(),
                'u' => UserId(),
                'g' => GroupId(),
                'h' => Environment.MachineName,
                'H' => Environment.MachineName.Split('.')[0],
                'p' => Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                'j' => JobVariable(environment, variable),
                _ => string.Empty,
            };
            result.Append(field.Length > width ? field[..width] : field);
        }

        return Truncate(result.ToString());
    }

    /// <summary>Keeps at most <see cref="MaxLength"/> UTF-8 bytes, whole characters only.</summary>
    public static string Truncate(string value)
    {
        if (Encoding.UTF8.GetByteCount(value) <= MaxLength)
        {
            return value;
        }

        var length = value.Length;
        while (length > 0 && Encoding.UTF8.GetByteCount(value.AsSpan(0, length)) > MaxLength)
        {
            length--;
        }

        if (length > 0 && char.IsHighSurrogate(value[length - 1]))
        {
            length--;
        }

        return value[..length];
    }

    private static string JobVariable(Func<string, string?> environment, string? variable)
    {
        if (variable is not null)
        {
            return environment(variable) ?? string.Empty;
        }

        foreach (var name in SchedulerVariables)
        {
            if (environment(name) is { Length: > 0 } value)
            {
                return value;
            }
        }

        return string.Empty;
    }

    /// <summary>The process name, at most 15 characters as the kernel's comm.</summary>
    private static string ProcessName()
    {
        using var process = Process.GetCurrentProcess();
        var name = process.ProcessName;
        return name.Length > 15 ? name[..15] : name;
    }

    private static string UserId() => StatusField("Uid:") ?? Environment.UserName;

    private static string GroupId() => StatusField("Gid:") ?? "0";

    /// <summary>The real id from <c>/proc/self/status</c> on Linux (no P/Invoke in the SDK); null elsewhere.</summary>
    private static string? StatusField(string field)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    var parts = line[field.Length..].Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    return parts.Length > 0 ? parts[0] : null;
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }
}
