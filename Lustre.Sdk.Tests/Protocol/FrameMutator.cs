using System.Buffers.Binary;

namespace Lustre.Tests.Protocol;

/// <summary>
/// A seeded random mutator for fuzzing decoders: starts from valid encodings and flips bits, sets bytes and
/// integers to boundary values (0, -1, int.MaxValue, lengths just past a limit), truncates, extends, inserts,
/// deletes and splices. The same seed gives the same inputs, so a failure is replayed by its seed and index.
/// </summary>
internal sealed class FrameMutator(int seed)
{
    private static readonly uint[] Interesting32 = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x100000, 0x100001, 0x1000000, 0x1000001, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE];
    private readonly Random _random = new(seed);

    /// <summary>A mutated copy of <paramref name="input"/> (or of a splice with <paramref name="other"/>), 1 to 8 mutations deep.</summary>
    public byte[] Mutate(byte[] input, byte[]? other = null)
    {
        var data = new List<byte>(input);
        var rounds = 1 + _random.Next(8);
        for (var r = 0; r < rounds; r++)
        {
            switch (_random.Next(10))
            {
                case 0 when data.Count > 0:
                    var bit = _random.Next(data.Count * 8);
                    data[bit / 8] ^= (byte)(1 << (bit % 8));
                    break;
                case 1 when data.Count > 0:
                    data[_random.Next(data.Count)] = (byte)(_random.Next(4) switch { 0 => 0, 1 => 0xFF, 2 => 0x80, _ => _random.Next(256) });
                    break;
                case 2 when data.Count >= 2:
                    SetInt(data, 2);
                    break;
                case 3 when data.Count >= 4:
                    SetInt(data, 4);
                    break;
                case 4 when data.Count >= 8:
                    SetInt(data, 8);
                    break;
                case 5 when data.Count > 0:
                    var removeAt = _random.Next(data.Count);
                    data.RemoveRange(removeAt, Math.Min(data.Count - removeAt, 1 + _random.Next(16)));
                    break;
                case 6 when data.Count > 0:
                    var cut = _random.Next(data.Count);
                    data.RemoveRange(cut, data.Count - cut);
                    break;
                case 7:
                    var insertAt = data.Count == 0 ? 0 : _random.Next(data.Count + 1);
                    var extra = new byte[1 + _random.Next(_random.Next(3) == 0 ? 512 : 16)];
                    _random.NextBytes(extra);
                    data.InsertRange(insertAt, extra);
                    break;
                case 8 when other is { Length: > 0 }:
                    var from = _random.Next(other.Length);
                    var length = 1 + _random.Next(other.Length - from);
                    var to = data.Count == 0 ? 0 : _random.Next(data.Count);
                    data.InsertRange(to, other.AsSpan(from, length).ToArray());
                    break;
                default:
                    if (data.Count > 0)
                    {
                        data[_random.Next(data.Count)] = (byte)_random.Next(256);
                    }

                    break;
            }
        }

        return [.. data];
    }

    /// <summary>Random bytes, for inputs with no structure at all.</summary>
    public byte[] Noise(int maxLength)
    {
        var bytes = new byte[_random.Next(maxLength + 1)];
        _random.NextBytes(bytes);
        return bytes;
    }

    public int Next(int max) => _random.Next(max);

    private void SetInt(List<byte> data, int size)
    {
        var at = _random.Next(data.Count - size + 1);
        Span<byte> bytes = stackalloc byte[8];
        var value = Interesting32[_random.Next(Interesting32.Length)];
        if (_random.Next(2) == 0)
        {
            value += (uint)(_random.Next(9) - 4);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(bytes, size == 8 && _random.Next(2) == 0 ? unchecked((ulong)(long)(int)value) : value);
        for (var i = 0; i < size; i++)
        {
            data[at + i] = bytes[i];
        }
    }
}
