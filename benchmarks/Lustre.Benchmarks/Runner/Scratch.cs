namespace Lustre.Benchmarks.Runner;

/// <summary>The temporary folders a benchmark run writes its data into.</summary>
internal static class Scratch
{
    /// <summary>Deletes a run's folder; a failure is reported, not thrown, so it never hides the run's result.</summary>
    public static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException ex)
        {
            Console.Error.WriteLine($"could not delete {directory}: {ex.Message}");
        }
    }
}
