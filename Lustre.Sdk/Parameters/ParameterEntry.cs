namespace Lustre.Parameters;

/// <summary>A name a pattern matched: a parameter, or a directory of parameters (<see cref="Parameter"/> null).</summary>
internal readonly record struct ParameterEntry(string Name, Parameter? Parameter)
{
    public bool IsDirectory => Parameter is null;
}
