namespace Lustre.IO;

/// <summary>
/// One range of a batched read (<see cref="Client.LustreClient.ReadBatchAsync"/>): up to <see cref="Destination"/>.Length
/// bytes of <see cref="File"/> from <see cref="Offset"/>. Requests of one batch may name the same or different files, in
/// any order, and their ranges may overlap; each lands in its own destination.
/// </summary>
public readonly struct LustreReadRequest
{
    /// <summary>Creates a request.</summary>
    /// <param name="file">An open file of the client the batch is read with.</param>
    /// <param name="offset">Where in the file the range starts; at or past the end of the file it reads nothing.</param>
    /// <param name="destination">Where the bytes go; its length is how many to read. Destinations of one batch must not overlap.</param>
    public LustreReadRequest(LustreFile file, long offset, Memory<byte> destination)
    {
        File = file;
        Offset = offset;
        Destination = destination;
    }

    /// <summary>The file to read.</summary>
    public LustreFile File { get; }

    /// <summary>Where in the file the range starts.</summary>
    public long Offset { get; }

    /// <summary>Where the bytes go; its length is how many to read.</summary>
    public Memory<byte> Destination { get; }

    /// <summary>The request's parts, for deconstruction.</summary>
    /// <param name="file">The file.</param>
    /// <param name="offset">The offset in the file.</param>
    /// <param name="destination">The destination.</param>
    public void Deconstruct(out LustreFile file, out long offset, out Memory<byte> destination)
    {
        file = File;
        offset = Offset;
        destination = Destination;
    }
}
