namespace Lustre.Dataset;

/// <summary>Consecutive samples of this rank's epoch order; disposing the batch disposes every sample in it.</summary>
public sealed class DatasetBatch : IDisposable
{
    private readonly DatasetSample[] _samples;

    internal DatasetBatch(DatasetSample[] samples) => _samples = samples;

    /// <summary>The samples, in epoch order. Each is valid until the batch is disposed.</summary>
    public IReadOnlyList<DatasetSample> Samples => _samples;

    /// <summary>The number of samples (the batch size, or fewer for the last batch of an epoch).</summary>
    public int Count => _samples.Length;

    /// <summary>Disposes every sample.</summary>
    public void Dispose()
    {
        foreach (var sample in _samples)
        {
            sample.Dispose();
        }
    }
}
