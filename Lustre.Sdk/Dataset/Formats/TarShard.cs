using System.Buffers.Binary;
using System.Text;
using Lustre.IO;

namespace Lustre.Dataset.Formats;

/// <summary>
/// WebDataset tar shards: ustar, GNU and pax archives as <c>tar</c> and Python's <c>tarfile</c> write them. Members
/// <c>dir/key.ext</c> (split at the first dot of the file name) that follow each other with the same key form one sample
/// whose fields are named by the extensions. Directories, links and other entries are skipped.
/// </summary>
internal static class TarShard
{
    public const int BlockSize = 512;

    public static async Task ScanAsync(LustreFile file, SampleIndexBuilder builder, IReadOnlyList<string> required, CancellationToken cancellationToken)
    {
        using var scanner = new ShardScanner(file);
        var path = file.Path;
        var length = scanner.Length;
        var first = builder.Count;
        string? currentKey = null;
        long sampleStart = 0;
        string? longName = null;
        string? paxPath = null;
        long? paxSize = null;
        long position = 0;
        while (position < length)
        {
            var header = await scanner.ReadAsync(position, BlockSize, cancellationToken).ConfigureAwait(false);
            if (header.Length < BlockSize)
            {
                throw new DatasetFormatException(path, position, position == 0
                    ? $"not a tar file: {length} bytes is shorter than one 512-byte header."
                    : $"truncated tar: the file ends {header.Length} bytes into a 512-byte header.");
            }

            var block = header.Span;
            if (block.IndexOfAnyExcept((byte)0) < 0)
            {
                break; // End-of-archive marker: two zero blocks (one is enough to stop).
            }

            if (!ChecksumMatches(block))
            {
                throw new DatasetFormatException(path, position, position == 0
                    ? "not a tar file: the first 512-byte header has no valid tar checksum."
                    : "corrupt tar header: its checksum does not match.");
            }

            var size = paxSize ?? ParseNumber(block.Slice(124, 12), path, position);
            var type = block[156];
            var name = longName ?? paxPath ?? HeaderName(block);
            var dataStart = position + BlockSize;
            if (size < 0 || size > length - dataStart)
            {
                throw new DatasetFormatException(path, position, $"truncated tar: member '{name}' declares {size} bytes but only {Math.Max(0, length - dataStart)} remain in the file.");
            }

            var next = dataStart + ((size + BlockSize - 1) / BlockSize * BlockSize);
            switch (type)
            {
                case (byte)'L':
                    longName = CString((await scanner.ReadAsync(dataStart, (int)size, cancellationToken).ConfigureAwait(false)).Span);
                    position = next;
                    continue;
                case (byte)'x':
                    (paxPath, paxSize) = ParsePax((await scanner.ReadAsync(dataStart, (int)size, cancellationToken).ConfigureAwait(false)).Span, path, position);
                    position = next;
                    continue;
                case (byte)'0' or 0 or (byte)'7':
                    if (size > int.MaxValue)
                    {
                        throw new DatasetFormatException(path, position, $"member '{name}' is {size} bytes; a sample field may be at most 2 GiB.");
                    }

                    var (key, extension) = SplitName(name);
                    if (!string.Equals(key, currentKey, StringComparison.Ordinal))
                    {
                        builder.AddSample(dataStart, 0, key);
                        currentKey = key;
                        sampleStart = dataStart;
                    }

                    builder.AddField(extension, checked((int)(dataStart - sampleStart)), (int)size);
                    builder.ExtendLastSample(dataStart + size);
                    break;
            }

            longName = null;
            paxPath = null;
            paxSize = null;
            position = next;
        }

        builder.CheckRequired(first, required);
    }

    /// <summary>WebDataset's rule: the key is everything before the first dot of the file name, the extension everything after.</summary>
    public static (string Key, string Extension) SplitName(string name)
    {
        var slash = name.LastIndexOf('/');
        var dot = name.IndexOf('.', slash + 1);
        return dot < 0 ? (name, string.Empty) : (name[..dot], name[(dot + 1)..]);
    }

    private static bool ChecksumMatches(ReadOnlySpan<byte> block)
    {
        long sum = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            sum += i is >= 148 and < 156 ? (byte)' ' : block[i];
        }

        var field = block.Slice(148, 8);
        long stored = 0;
        var digits = 0;
        foreach (var b in field)
        {
            if (b is >= (byte)'0' and <= (byte)'7')
            {
                stored = (stored * 8) + (b - '0');
                digits++;
            }
            else if (digits > 0 || b is not (byte)' ')
            {
                break;
            }
        }

        return digits > 0 && stored == sum;
    }

    /// <summary>Octal, NUL/space padded; or GNU base-256 when the high bit of the first byte is set.</summary>
    private static long ParseNumber(ReadOnlySpan<byte> field, string path, long position)
    {
        if ((field[0] & 0x80) != 0)
        {
            long big = field[0] & 0x7F;
            for (var i = 1; i < field.Length; i++)
            {
                big = checked((big << 8) | field[i]);
            }

            return big;
        }

        long value = 0;
        var started = false;
        foreach (var b in field)
        {
            if (b is >= (byte)'0' and <= (byte)'7')
            {
                value = (value * 8) + (b - '0');
                started = true;
            }
            else if (b is 0 or (byte)' ')
            {
                if (started)
                {
                    break;
                }
            }
            else
            {
                throw new DatasetFormatException(path, position, "corrupt tar header: the size field is not an octal number.");
            }
        }

        return value;
    }

    private static string HeaderName(ReadOnlySpan<byte> block)
    {
        var name = CString(block[..100]);
        // POSIX ustar ("ustar\0") may hold a directory prefix; GNU tar ("ustar  ") uses that space for other things.
        if (block.Slice(257, 6).SequenceEqual("ustar\0"u8) && block[345] != 0)
        {
            return CString(block.Slice(345, 155)) + "/" + name;
        }

        return name;
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var end = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? bytes : bytes[..end]);
    }

    /// <summary>Pax records are "LENGTH key=value\n"; only path and size matter for reading samples.</summary>
    private static (string? Path, long? Size) ParsePax(ReadOnlySpan<byte> data, string shard, long position)
    {
        string? path = null;
        long? size = null;
        while (!data.IsEmpty && data[0] != 0)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0 || !int.TryParse(data[..space], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var recordLength)
                || recordLength <= space + 1 || recordLength > data.Length || data[recordLength - 1] != (byte)'\n')
            {
                throw new DatasetFormatException(shard, position, "corrupt pax extended header.");
            }

            var record = data[(space + 1)..(recordLength - 1)];
            var equals = record.IndexOf((byte)'=');
            if (equals > 0)
            {
                var key = record[..equals];
                var value = record[(equals + 1)..];
                if (key.SequenceEqual("path"u8))
                {
                    path = Encoding.UTF8.GetString(value);
                }
                else if (key.SequenceEqual("size"u8) && long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
                {
                    size = parsed;
                }
            }

            data = data[recordLength..];
        }

        return (path, size);
    }

    /// <summary>Writes POSIX ustar members <c>key.field</c> (mode 0644, owner 0, time 0) and the two-block end marker.</summary>
    internal sealed class Encoder : ShardEncoder
    {
        private static readonly byte[] Padding = new byte[BlockSize * 2];

        public override string Extension => ".tar";

        public override async ValueTask<long> WriteSampleAsync(Stream shard, long offset, string key, IReadOnlyList<DatasetField> fields, CancellationToken cancellationToken)
        {
            long written = 0;
            var header = new byte[BlockSize];
            if (key.IndexOf('.', key.LastIndexOf('/') + 1) >= 0)
            {
                throw new ArgumentException($"The key '{key}' has a dot in its file name, so WebDataset readers would split it there.", nameof(key));
            }

            foreach (var field in fields)
            {
                WriteHeader(header, key + "." + field.Name, field.Data.Length);
                await shard.WriteAsync(header, cancellationToken).ConfigureAwait(false);
                await shard.WriteAsync(field.Data, cancellationToken).ConfigureAwait(false);
                var pad = (BlockSize - (field.Data.Length % BlockSize)) % BlockSize;
                await shard.WriteAsync(Padding.AsMemory(0, pad), cancellationToken).ConfigureAwait(false);
                written += BlockSize + field.Data.Length + pad;
            }

            return written;
        }

        public override ValueTask EndShardAsync(Stream shard, long offset, CancellationToken cancellationToken) => shard.WriteAsync(Padding, cancellationToken);

        private static void WriteHeader(Span<byte> header, string name, long size)
        {
            header.Clear();
            var nameBytes = Encoding.UTF8.GetByteCount(name);
            if (nameBytes > 100)
            {
                throw new ArgumentException($"The tar member name '{name}' is {nameBytes} bytes; ustar allows 100. Use shorter keys.", nameof(name));
            }

            Encoding.UTF8.GetBytes(name, header);
            Octal(header.Slice(100, 8), 0x1A4);
            Octal(header.Slice(108, 8), 0);
            Octal(header.Slice(116, 8), 0);
            Octal(header.Slice(124, 12), size);
            Octal(header.Slice(136, 12), 0);
            header[156] = (byte)'0';
            "ustar\0"u8.CopyTo(header[257..]);
            "00"u8.CopyTo(header[263..]);
            Octal(header.Slice(329, 8), 0);
            Octal(header.Slice(337, 8), 0);
            header.Slice(148, 8).Fill((byte)' ');
            long sum = 0;
            foreach (var b in header)
            {
                sum += b;
            }

            Octal(header.Slice(148, 7), sum);
        }

        /// <summary>Zero-padded octal digits filling the field but its last byte, which stays NUL.</summary>
        private static void Octal(Span<byte> field, long value)
        {
            for (var i = field.Length - 2; i >= 0; i--)
            {
                field[i] = (byte)('0' + (value & 7));
                value >>= 3;
            }

            field[^1] = 0;
        }
    }
}
