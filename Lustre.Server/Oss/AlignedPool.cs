using System.Runtime.InteropServices;

namespace Lustre.Server.Oss;

/// <summary>
/// Page-aligned native buffers for O_DIRECT reads, kept by size when returned, up to a total: a new buffer costs a
/// page fault and a zeroed page per 4 KiB on its first use, as much CPU as the page-cache fill a direct read avoids.
/// </summary>
internal sealed unsafe class AlignedPool(long retainedBytes) : IDisposable
{
    private const int Alignment = 4096;

    // By size, under one lock: a ConcurrentStack would allocate a node on every return, that is on every direct write.
    private readonly Lock _lock = new();
    private readonly Dictionary<int, Stack<nint>> _free = [];
    private long _retained;
    private bool _disposed;

    /// <summary>A buffer of exactly <paramref name="length"/> bytes (a multiple of the page size), not cleared.</summary>
    public nint Rent(int length)
    {
        lock (_lock)
        {
            if (_free.TryGetValue(length, out var stack) && stack.TryPop(out var buffer))
            {
                _retained -= length;
                return buffer;
            }
        }

        return (nint)NativeMemory.AlignedAlloc((nuint)length, Alignment);
    }

    public void Return(nint buffer, int length)
    {
        lock (_lock)
        {
            if (!_disposed && _retained + length <= retainedBytes)
            {
                if (!_free.TryGetValue(length, out var stack))
                {
                    _free[length] = stack = new Stack<nint>();
                }

                stack.Push(buffer);
                _retained += length;
                return;
            }
        }

        NativeMemory.AlignedFree((void*)buffer);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var stack in _free.Values)
            {
                while (stack.TryPop(out var buffer))
                {
                    NativeMemory.AlignedFree((void*)buffer);
                }
            }

            _retained = 0;
        }
    }
}
