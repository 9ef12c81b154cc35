namespace Lustre.Client;

/// <summary>
/// One path's answer in <see cref="LustreClient.GetInfoAsync(IEnumerable{string}, CancellationToken)"/>: its attributes,
/// or the exception a lookup of that path alone would have thrown.
/// </summary>
public sealed class LustreFileInfoResult
{
    /// <summary>Makes a result (for test doubles; the client makes its own).</summary>
    /// <param name="path">The path looked up.</param>
    /// <param name="info">The attributes; null when the lookup failed.</param>
    /// <param name="error">Why the lookup failed; null when it succeeded.</param>
    /// <exception cref="ArgumentException">Both or neither of <paramref name="info"/> and <paramref name="error"/> are given.</exception>
    public LustreFileInfoResult(string path, LustreFileInfo? info, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(path);
        if ((info is null) == (error is null))
        {
            throw new ArgumentException($"A result for '{path}' has either attributes or an error, not {(info is null ? "neither" : "both")}.", nameof(error));
        }

        Path = path;
        Info = info;
        Error = error;
    }

    /// <summary>The path, normalized as <see cref="LustreFileInfo.Path"/> is.</summary>
    public string Path { get; }

    /// <summary>The attributes; null when the lookup failed.</summary>
    public LustreFileInfo? Info { get; }

    /// <summary>
    /// Why the lookup failed: <see cref="FileNotFoundException"/>, <see cref="UnauthorizedAccessException"/>,
    /// <see cref="LustreServerException"/>, or a <see cref="LustreException"/> for an OST that did not tell the size of a
    /// file open for write; null when it succeeded.
    /// </summary>
    public Exception? Error { get; }

    /// <summary>True when <see cref="Info"/> holds the attributes.</summary>
    public bool Succeeded => Info is not null;

    /// <summary>The attributes; when the lookup failed, throws <see cref="Error"/>.</summary>
    public LustreFileInfo GetInfoOrThrow() => Info ?? throw Error!;
}
