namespace Lustre.Client;

/// <summary>
/// One parameter of a client's tree, as <c>lctl get_param</c> shows it on a Lustre client node
/// (<see cref="LustreClient.GetParametersAsync"/>).
/// </summary>
public sealed class LustreParameter
{
    internal LustreParameter(string name, string? value, bool isWritable)
    {
        Name = name;
        Value = value;
        IsWritable = isWritable;
    }

    /// <summary>The dotted name: <c>osc.lustre-OST0000-osc-1f2e3d4c5b6a7988.max_rpcs_in_flight</c>.</summary>
    public string Name { get; }

    /// <summary>The value as lctl prints it; null for a directory of parameters (<c>osc.lustre-OST0000-osc-1f2e3d4c5b6a7988</c>).</summary>
    public string? Value { get; }

    /// <summary>Whether <see cref="LustreClient.SetParametersAsync"/> may change it.</summary>
    public bool IsWritable { get; }

    /// <inheritdoc/>
    public override string ToString() => Value is null ? Name : $"{Name}={Value}";
}
