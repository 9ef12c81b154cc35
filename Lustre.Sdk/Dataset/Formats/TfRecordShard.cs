using System.Buffers.Binary;
using Lustre.IO;

namespace Lustre.Dataset.Formats;

/// <summary>
/// TFRecord files as TensorFlow writes them: per record, the length (u64 LE), the masked CRC32C of those 8 bytes, the
/// data, the masked CRC32C of the data. The scan checks every length CRC; the data CRC is checked when the record is read.
/// </summary>
internal static class TfRecordShard
{
    public const int HeaderSize = 12;
    public const int TrailerSize = 4;
    public const string FieldName = "record";

    public static async Task ScanAsync(LustreFile file, SampleIndexBuilder builder, CancellationToken cancellationToken)
    {
        using var scanner = new ShardScanner(file);
        var path = file.Path;
        var length = scanner.Length;
        var nameId = builder.NameId(FieldName);
        long position = 0;
        while (position < length)
        {
            var header = await scanner.ReadAsync(position, HeaderSize, cancellationToken).ConfigureAwait(false);
            if (header.Length < HeaderSize)
            {
                throw new DatasetFormatException(path, position, $"truncated TFRecord: the file ends {header.Length} bytes into a 12-byte record header.");
            }

            var span = header.Span;
            var recordLength = BinaryPrimitives.ReadUInt64LittleEndian(span);
            var stored = BinaryPrimitives.ReadUInt32LittleEndian(span[8..]);
            var actual = Crc32C.Masked(span[..8]);
            if (stored != actual)
            {
                throw new DatasetFormatException(path, position, $"TFRecord length CRC mismatch (stored 0x{stored:x8}, computed 0x{actual:x8}): not a TFRecord file, or corrupt.");
            }

            if (recordLength > int.MaxValue - HeaderSize - TrailerSize)
            {
                throw new DatasetFormatException(path, position, $"TFRecord record of {recordLength} bytes; a sample may be at most 2 GiB.");
            }

            var total = HeaderSize + (long)recordLength + TrailerSize;
            if (total > length - position)
            {
                throw new DatasetFormatException(path, position, $"truncated TFRecord: the record declares {recordLength} bytes but only {Math.Max(0, length - position - HeaderSize - TrailerSize)} remain.");
            }

            builder.AddSample(position, (int)total, null);
            builder.AddField(nameId, HeaderSize, (int)recordLength);
            position += total;
        }
    }

    /// <summary>Checks the data CRC of one record read whole (header, data, trailer).</summary>
    public static void Verify(ReadOnlySpan<byte> record, string path, long offset)
    {
        var data = record[HeaderSize..^TrailerSize];
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(record[^TrailerSize..]);
        var actual = Crc32C.Masked(data);
        if (stored != actual)
        {
            throw new DatasetFormatException(path, offset, $"TFRecord data CRC mismatch in the record at offset {offset} (stored 0x{stored:x8}, computed 0x{actual:x8}).");
        }
    }

    /// <summary>Writes each sample's single field as one record.</summary>
    internal sealed class Encoder : ShardEncoder
    {
        public override string Extension => ".tfrecord";

        public override async ValueTask<long> WriteSampleAsync(Stream shard, long offset, string key, IReadOnlyList<DatasetField> fields, CancellationToken cancellationToken)
        {
            if (fields.Count != 1)
            {
                throw new ArgumentException($"A TFRecord record is one byte string; sample '{key}' has {fields.Count} fields. Serialize them into one (e.g. a tf.train.Example).", nameof(fields));
            }

            var data = fields[0].Data;
            var header = new byte[HeaderSize];
            BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Crc32C.Masked(header.AsSpan(0, 8)));
            var trailer = new byte[TrailerSize];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32C.Masked(data.Span));
            await shard.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await shard.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            await shard.WriteAsync(trailer, cancellationToken).ConfigureAwait(false);
            return HeaderSize + data.Length + TrailerSize;
        }
    }
}
