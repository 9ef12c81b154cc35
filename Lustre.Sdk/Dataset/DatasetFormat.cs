namespace Lustre.Dataset;

/// <summary>The layout of a dataset's shard files.</summary>
public enum DatasetFormat
{
    /// <summary>Chosen per file by its extension: <c>.lds</c>, <c>.tar</c>, <c>.tfrecord</c>/<c>.tfrecords</c>, <c>.bin</c>.</summary>
    Auto,

    /// <summary>Our indexed shard format (<c>.lds</c>): samples with named fields and an index at the end; see <c>docs/dataset-format.md</c>.</summary>
    Indexed,

    /// <summary>WebDataset: a tar file whose members <c>key.ext</c> are grouped into samples by key; each extension is a field.</summary>
    WebDataset,

    /// <summary>TFRecord: length, masked CRC32C of the length, data, masked CRC32C of the data. Each record is one field named <c>record</c>.</summary>
    TfRecord,

    /// <summary>
    /// Flat little-endian integer tokens (numpy <c>tofile</c>), read as fixed-length sequences of
    /// <see cref="LustreDatasetOptions.SequenceLength"/> tokens of <see cref="LustreDatasetOptions.TokenWidth"/> bytes, in a field named <c>tokens</c>.
    /// </summary>
    Tokens,

    /// <summary>
    /// One file per sample, as torchvision's <c>ImageFolder</c> reads image folders (or audio clips, or one JSON per
    /// document): every file below the given directories is a sample with one field named by its extension, labelled
    /// by its class folder (<c>root/cat/001.jpg</c> is a sample of class <c>cat</c>) or by
    /// <see cref="LustreDatasetOptions.LabelSelector"/>. Files are opened a thousand per metadata request and read in
    /// batches per OST; see <c>docs/dataset-format.md</c>. Never chosen by <see cref="Auto"/>.
    /// </summary>
    Folder,
}
