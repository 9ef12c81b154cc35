namespace Lustre.Dataset;

/// <summary>What a <see cref="LustreDataset"/> has done since it was opened; the same figures are metrics of the <c>Lustre.Sdk</c> meter.</summary>
/// <param name="SamplesRead">Samples handed to the consumer.</param>
/// <param name="BytesRead">Sample bytes handed to the consumer.</param>
/// <param name="BytesFetched">Bytes read from the OSTs, including the gaps that coalescing read between neighbouring samples.</param>
/// <param name="Reads">Read requests issued (each covers one or more coalesced samples and fans out to its OSTs).</param>
/// <param name="StallTime">Time the consumer waited for data that was not prefetched yet.</param>
/// <param name="PrefetchedBytes">Bytes held now: prefetched, or handed out and not yet disposed.</param>
public readonly record struct DatasetStatistics(long SamplesRead, long BytesRead, long BytesFetched, long Reads, TimeSpan StallTime, long PrefetchedBytes);
