using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Lustre.Server.Oss;

/// <summary>
/// Page-aligned native buffers for O_DIRECT reads, kept by size when returned, up to a total: a new buffer costs a
/// page fault and a zeroed page per 4 KiB on its first use, as much CPU as the page-cache fill a direct read avoids.
/// </summary>
internal sealed unsafe class AlignedPool(long retainedBytes) : IDisposable
{
    private const int Alignment = 4096;
    private readonly ConcurrentDictionary<int, ConcurrentStack<nint>> _free = new();
    private long _retained;
    private bool _disposed;

    /// <summary>A buffer of exactly <paramref name="length"/> bytes (a multiple of the page size), not cleared.</summary>
    public nint Rent(int length)
    {
        if (_free.TryGetValue(length, out var stack) && stack.TryPop(out var buffer))
        {
            Interlocked.Add(ref _retained, -length);
            return buffer;
        }

        return (nint)NativeMemory.AlignedAlloc((nuint)length, Alignment);
    }

    public void Return(nint buffer, int length)
    {
        if (!Volatile.Read(ref _disposed))
        {
            if (Interlocked.Add(ref _retained, length) <= retainedBytes)
            {
                _free.GetOrAdd(length, _ => new ConcurrentStack<nint>()).Push(buffer);
                return;
            }

            Interlocked.Add(ref _retained, -length);
        }

        NativeMemory.AlignedFree((void*)buffer);
    }

    public void Dispose()
    {
        Volatile.Write(ref _disposed, true);
        foreach (var stack in _free.Values)
        {
            while (stack.TryPop(out var buffer))
            {
                NativeMemory.AlignedFree((void*)buffer);
            }
        }
    }
}
