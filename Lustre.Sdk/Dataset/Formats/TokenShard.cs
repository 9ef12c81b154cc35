using Lustre.IO;

namespace Lustre.Dataset.Formats;

/// <summary>
/// Flat token files as numpy's <c>tofile</c> writes them (little-endian uint16 or uint32, no header): sample i is tokens
/// [i·L, (i+1)·L) of its file. Sequences never span two files; the tokens after the last whole sequence are not read.
/// </summary>
internal static class TokenShard
{
    public const string FieldName = "tokens";

    public static void Scan(LustreFile file, SampleIndexBuilder builder, int tokenWidth, int sequenceLength)
    {
        var length = file.Length;
        if (length % tokenWidth != 0)
        {
            throw new DatasetFormatException(file.Path, length - (length % tokenWidth), $"token file of {length} bytes is not a whole number of {tokenWidth}-byte tokens (wrong TokenWidth?).");
        }

        var sampleBytes = (long)tokenWidth * sequenceLength;
        if (sampleBytes > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(sequenceLength), sequenceLength, "A sequence may be at most 2 GiB.");
        }

        var nameId = builder.NameId(FieldName);
        var count = length / sampleBytes;
        for (long i = 0; i < count; i++)
        {
            builder.AddSample(i * sampleBytes, (int)sampleBytes, null);
            builder.AddField(nameId, 0, (int)sampleBytes);
        }
    }
}
