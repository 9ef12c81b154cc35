using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Lustre.IO;

namespace Lustre.Dataset.Formats;

/// <summary>
/// Our indexed shard (<c>.lds</c>): a 16-byte header, the samples' fields back to back, an index, and a 32-byte footer
/// that locates the index. Reading one footer and one index gives random access to every sample. See docs/dataset-format.md.
/// </summary>
internal static class IndexedShard
{
    public const int HeaderSize = 16;
    public const int FooterSize = 32;
    public const uint Version = 1;
    public const int MaxIndexSize = 1 << 30;
    public static ReadOnlySpan<byte> HeaderMagic => "LUSTRDS1"u8;
    public static ReadOnlySpan<byte> FooterMagic => "LDSINDEX"u8;

    public static async Task ScanAsync(LustreFile file, SampleIndexBuilder builder, CancellationToken cancellationToken)
    {
        var path = file.Path;
        var length = file.Length;
        if (length < HeaderSize + FooterSize)
        {
            throw new DatasetFormatException(path, 0, $"not an indexed shard: {length} bytes is shorter than a header and a footer.");
        }

        var footer = new byte[FooterSize];
        await ReadExactlyAsync(file, length - FooterSize, footer, cancellationToken).ConfigureAwait(false);
        if (!footer.AsSpan(24).SequenceEqual(FooterMagic))
        {
            throw new DatasetFormatException(path, length - FooterSize, "not an indexed shard: the footer magic 'LDSINDEX' is missing (truncated, or another format).");
        }

        var indexOffset = BinaryPrimitives.ReadInt64LittleEndian(footer);
        var indexLength = BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(8));
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(footer.AsSpan(16));
        var version = BinaryPrimitives.ReadUInt32LittleEndian(footer.AsSpan(20));
        if (version != Version)
        {
            throw new DatasetFormatException(path, length - FooterSize, $"indexed shard version {version} is not supported (this reader knows version {Version}).");
        }

        if (indexOffset < HeaderSize || indexLength < 8 || indexLength > MaxIndexSize || indexOffset + indexLength != length - FooterSize)
        {
            throw new DatasetFormatException(path, length - FooterSize, $"the footer's index range [{indexOffset}, +{indexLength}) does not end at the footer.");
        }

        var index = ArrayPool<byte>.Shared.Rent((int)indexLength);
        try
        {
            var span = index.AsMemory(0, (int)indexLength);
            await ReadExactlyAsync(file, indexOffset, span, cancellationToken).ConfigureAwait(false);
            var actual = Crc32C.Compute(span.Span);
            if (actual != crc)
            {
                throw new DatasetFormatException(path, indexOffset, $"index CRC32C mismatch (footer 0x{crc:x8}, computed 0x{actual:x8}).");
            }

            Parse(path, span.Span, indexOffset, builder);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(index);
        }
    }

    private static void Parse(string path, ReadOnlySpan<byte> index, long indexOffset, SampleIndexBuilder builder)
    {
        var reader = new IndexReader(path, index, indexOffset);
        var nameCount = reader.U32();
        var names = new ushort[Math.Min(nameCount, ushort.MaxValue + 1u)];
        for (var i = 0; i < nameCount; i++)
        {
            if (i >= names.Length)
            {
                throw reader.Error("too many field names.");
            }

            names[i] = builder.NameId(reader.String());
        }

        var sampleCount = reader.U32();
        for (long s = 0; s < sampleCount; s++)
        {
            var key = reader.String();
            var offset = (long)reader.U64();
            var fieldCount = reader.U16();
            if (offset < HeaderSize || offset > indexOffset)
            {
                throw reader.Error($"sample '{key}' starts at {offset}, outside the data area [{HeaderSize}, {indexOffset}).");
            }

            builder.AddSample(offset, 0, key);
            long relative = 0;
            for (var f = 0; f < fieldCount; f++)
            {
                var nameId = reader.U16();
                var fieldLength = reader.U32();
                if (nameId >= nameCount)
                {
                    throw reader.Error($"sample '{key}' names field {nameId} of {nameCount}.");
                }

                if (offset + relative + fieldLength > indexOffset || relative + fieldLength > int.MaxValue)
                {
                    throw reader.Error($"sample '{key}' field {f} runs past the data area.");
                }

                builder.AddField(names[nameId], (int)relative, (int)fieldLength);
                relative += fieldLength;
            }

            builder.ExtendLastSample(offset + relative);
        }

        if (!reader.AtEnd)
        {
            throw reader.Error("bytes left over after the last index entry.");
        }
    }

    private static async Task ReadExactlyAsync(LustreFile file, long offset, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var read = await file.ReadAtAsync(offset, buffer, cancellationToken).ConfigureAwait(false);
        if (read != buffer.Length)
        {
            throw new DatasetFormatException(file.Path, offset + read, "unexpected end of file.");
        }
    }

    /// <summary>Bounds-checked little-endian reads over the index, failing with the shard and the offset.</summary>
    private ref struct IndexReader(string path, ReadOnlySpan<byte> data, long baseOffset)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public readonly bool AtEnd => _at == _data.Length;

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

        public string String()
        {
            var length = U16();
            return Encoding.UTF8.GetString(Take(length));
        }

        public readonly DatasetFormatException Error(string problem) => new(path, baseOffset + _at, "corrupt index: " + problem);

        private ReadOnlySpan<byte> Take(int count)
        {
            if (_data.Length - _at < count)
            {
                throw Error("entry runs past the end of the index.");
            }

            var span = _data.Slice(_at, count);
            _at += count;
            return span;
        }
    }

    /// <summary>Writes the header, appends fields, and keeps the index in memory until the shard ends.</summary>
    internal sealed class Encoder : ShardEncoder
    {
        private readonly ArrayBufferWriter<byte> _entries = new();
        private readonly Dictionary<string, ushort> _names = new(StringComparer.Ordinal);
        private readonly List<string> _nameList = [];
        private uint _count;

        public override string Extension => ".lds";

        public override async ValueTask BeginShardAsync(Stream shard, CancellationToken cancellationToken)
        {
            _entries.Clear();
            _names.Clear();
            _nameList.Clear();
            _count = 0;
            var header = new byte[HeaderSize];
            HeaderMagic.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
            await shard.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        }

        public override async ValueTask<long> WriteSampleAsync(Stream shard, long offset, string key, IReadOnlyList<DatasetField> fields, CancellationToken cancellationToken)
        {
            if (fields.Count > ushort.MaxValue)
            {
                throw new ArgumentException($"A sample may have at most {ushort.MaxValue} fields.", nameof(fields));
            }

            WriteString(key, nameof(key));
            var head = _entries.GetSpan(10);
            BinaryPrimitives.WriteInt64LittleEndian(head, offset);
            BinaryPrimitives.WriteUInt16LittleEndian(head[8..], (ushort)fields.Count);
            _entries.Advance(10);
            long written = 0;
            foreach (var field in fields)
            {
                if (!_names.TryGetValue(field.Name, out var id))
                {
                    if (_nameList.Count == ushort.MaxValue)
                    {
                        throw new ArgumentException($"A shard may have at most {ushort.MaxValue} distinct field names.", nameof(fields));
                    }

                    id = (ushort)_nameList.Count;
                    _names.Add(field.Name, id);
                    _nameList.Add(field.Name);
                }

                var entry = _entries.GetSpan(6);
                BinaryPrimitives.WriteUInt16LittleEndian(entry, id);
                BinaryPrimitives.WriteUInt32LittleEndian(entry[2..], (uint)field.Data.Length);
                _entries.Advance(6);
                await shard.WriteAsync(field.Data, cancellationToken).ConfigureAwait(false);
                written += field.Data.Length;
            }

            _count++;
            return written;
        }

        public override async ValueTask EndShardAsync(Stream shard, long offset, CancellationToken cancellationToken)
        {
            var index = new ArrayBufferWriter<byte>(_entries.WrittenCount + 64);
            BinaryPrimitives.WriteUInt32LittleEndian(index.GetSpan(4), (uint)_nameList.Count);
            index.Advance(4);
            foreach (var name in _nameList)
            {
                WriteString(index, name, "field name");
            }

            BinaryPrimitives.WriteUInt32LittleEndian(index.GetSpan(4), _count);
            index.Advance(4);
            index.Write(_entries.WrittenSpan);
            var footer = new byte[FooterSize];
            BinaryPrimitives.WriteInt64LittleEndian(footer, offset);
            BinaryPrimitives.WriteInt64LittleEndian(footer.AsSpan(8), index.WrittenCount);
            BinaryPrimitives.WriteUInt32LittleEndian(footer.AsSpan(16), Crc32C.Compute(index.WrittenSpan));
            BinaryPrimitives.WriteUInt32LittleEndian(footer.AsSpan(20), Version);
            FooterMagic.CopyTo(footer.AsSpan(24));
            await shard.WriteAsync(index.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await shard.WriteAsync(footer, cancellationToken).ConfigureAwait(false);
        }

        private void WriteString(string value, string what) => WriteString(_entries, value, what);

        private static void WriteString(ArrayBufferWriter<byte> to, string value, string what)
        {
            var length = Encoding.UTF8.GetByteCount(value);
            if (length > ushort.MaxValue)
            {
                throw new ArgumentException($"The {what} '{value[..32]}…' is {length} bytes in UTF-8; at most {ushort.MaxValue} are allowed.", what);
            }

            var span = to.GetSpan(2 + length);
            BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)length);
            Encoding.UTF8.GetBytes(value, span[2..]);
            to.Advance(2 + length);
        }
    }
}
