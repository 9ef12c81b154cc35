namespace Lustre.Tests;

/// <summary>A folder of its own under the temporary directory for one test class's files, deleted with everything in it on dispose.</summary>
internal sealed class TempFolder(string prefix) : IDisposable
{
    /// <summary>The folder's full path.</summary>
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A server child process may still hold a file for a moment; the temporary directory is cleaned anyway.
        }
    }
}
