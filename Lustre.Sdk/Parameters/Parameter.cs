using Lustre.Protocol;

namespace Lustre.Parameters;

/// <summary>
/// One parameter of a tree (Lustre's <c>/proc/fs/lustre</c> and <c>/sys/fs/lustre</c> files, as <c>lctl</c> names them):
/// its dotted name, how to read it, and, unless it is read-only, how to change it at run time. The writer checks the
/// value first (throwing <see cref="ParameterException"/> that names the parameter and the allowed range) and returns
/// the change, so a value can be checked without being applied (<see cref="Check"/>).
/// </summary>
internal sealed class Parameter(string name, Func<string> read, Func<string, Action>? write = null)
{
    /// <summary>The dotted name: <c>osc.lustre-OST0000-osc-1f2e3d4c5b6a7988.max_rpcs_in_flight</c>.</summary>
    public string Name { get; } = name;

    public bool IsWritable => write is not null;

    /// <summary>The value as lctl prints it; a value of several lines has no trailing newline.</summary>
    public string Read() => read();

    /// <summary>Changes the value, or throws <see cref="ParameterException"/> (EACCES when read-only, ERANGE or EINVAL for a bad value).</summary>
    public void Write(string value) => Check(value)();

    /// <summary>Throws what <see cref="Write"/> would for <paramref name="value"/>; returns the change without making it.</summary>
    public Action Check(string value) =>
        write is null ? throw new ParameterException(LustreErrno.EACCES, $"{Name} is read-only") : write(value);
}
