using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// Reads object bytes that are not in the page cache with O_DIRECT (Linux), as Lustre's OSS does for bulk I/O: the disk
/// writes them straight into the reply's buffer, without filling the page cache first. Measured on a 100 KiB-sample
/// cold epoch, that fill (page allocation, readahead, mapping) was 18 % of the CPU of client and servers together.
/// A read is cut into 1 MiB pieces that dedicated I/O threads issue at once, so the disk sees a queue of requests:
/// blocking reads on the thread pool starved it (1.4 GB/s), the I/O threads get 2.7–3.0 GB/s from the disk that gives
/// four buffered sequential streams 1.1–1.8.
/// </summary>
internal sealed partial class DirectReader : IDisposable
{
    /// <summary>
    /// Reads at least this large are read past the cache when it does not hold them: those the OSS sends without a copy
    /// into a buffer of its own. Smaller ones go through the page cache (a cached small read is served inline).
    /// </summary>
    internal const int MinimumLength = OssService.ZeroCopyMinimum;

    private const int PieceLength = 1 << 20;
    private const int Alignment = 4096;
    private const int ErrnoInterrupted = 4;
    private const int ErrnoCanceled = 125;

    private readonly BlockingCollection<(Request Request, int Piece)> _queue = new(new ConcurrentQueue<(Request, int)>());
    private readonly Thread[] _threads;
    private readonly AlignedPool _pool = new(retainedBytes: 128L << 20);
    private volatile bool _unsupported;

    public DirectReader(int threads = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"OSS direct read {i}" };
            _threads[i].Start();
        }
    }

    /// <summary>
    /// False once a direct open failed for want of support (a filesystem that refuses O_DIRECT, such as tmpfs before
    /// Linux 6.6 or some FUSE mounts, or no /proc): every read of this OSS then uses the page cache.
    /// </summary>
    public bool Supported => !_unsupported && OperatingSystem.IsLinux();

    /// <summary>
    /// The bytes [offset, offset + length) of the open file, read past the page cache; fewer if the file ends sooner.
    /// Null when the filesystem does not support O_DIRECT. The caller disposes the region.
    /// </summary>
    public async ValueTask<DirectRegion?> ReadAsync(SafeFileHandle handle, long offset, int length)
    {
        var fd = DirectDescriptor.Open(handle, DirectDescriptor.ReadOnly, offset, length);
        if (fd < 0)
        {
            _unsupported = true;
            return null;
        }

        var start = offset - (offset % Alignment);
        var skip = (int)(offset - start);
        var span = (skip + length + Alignment - 1) / Alignment * Alignment;
        // Buffers come in whole pieces, so reads of nearly the same length share them.
        var capacity = PiecesOf(span) * PieceLength;
        var request = new Request(fd, start, span, _pool.Rent(capacity));
        var queued = 0;
        try
        {
            for (; queued < request.Pieces; queued++)
            {
                _queue.Add((request, queued));
            }
        }
        catch (InvalidOperationException)
        {
            // Stopped meanwhile (adding completed, or the queue disposed): the pieces not queued fail the read.
            request.Abandon(request.Pieces - queued);
        }

        int read;
        try
        {
            read = await request.Completion.Task.ConfigureAwait(false);
        }
        catch
        {
            _pool.Return(request.Buffer, capacity);
            throw;
        }

        return DirectRegion.Rent(_pool, request.Buffer, capacity, skip, Math.Clamp(read - skip, 0, length));
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _queue.Dispose();
        _pool.Dispose();
    }

    private void Run()
    {
        foreach (var (request, piece) in _queue.GetConsumingEnumerable())
        {
            request.ReadPiece(piece);
        }
    }

    private static int PiecesOf(int span) => (span + PieceLength - 1) / PieceLength;

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint Pread(int fd, nint buffer, nuint count, long offset);

    /// <summary>One read's pieces: each I/O thread reads one; the last to finish closes the descriptor and completes it.</summary>
    private sealed class Request(int fd, long start, int span, nint buffer)
    {
        private readonly int[] _read = new int[PiecesOf(span)];
        private int _left = PiecesOf(span);
        private int _errno;

        public nint Buffer => buffer;

        public int Pieces => _read.Length;

        public TaskCompletionSource<int> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void ReadPiece(int piece)
        {
            var at = piece * PieceLength;
            var length = Math.Min(PieceLength, span - at);
            var total = 0;
            while (total < length && Volatile.Read(ref _errno) == 0)
            {
                var got = Pread(fd, buffer + at + total, (nuint)(length - total), start + at + total);
                if (got < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno != ErrnoInterrupted)
                    {
                        Interlocked.CompareExchange(ref _errno, errno, 0);
                    }

                    continue;
                }

                if (got == 0)
                {
                    break;
                }

                total += (int)got;
            }

            _read[piece] = total;
            if (Interlocked.Decrement(ref _left) == 0)
            {
                Finish();
            }
        }

        /// <summary>Fails the read for <paramref name="pieces"/> pieces that will never be read.</summary>
        public void Abandon(int pieces)
        {
            Interlocked.CompareExchange(ref _errno, ErrnoCanceled, 0);
            if (Interlocked.Add(ref _left, -pieces) == 0)
            {
                Finish();
            }
        }

        private void Finish()
        {
            DirectDescriptor.Close(fd);
            if (_errno != 0)
            {
                var why = _errno == ErrnoCanceled ? "the OSS's direct reader was stopped" : $"errno {_errno}";
                Completion.SetException(new IOException($"direct read of {span} bytes at {start} failed: {why}"));
                return;
            }

            // The bytes read run up to the first piece that came back short (the end of the file).
            var read = 0;
            for (var piece = 0; piece < _read.Length; piece++)
            {
                read += _read[piece];
                if (_read[piece] < Math.Min(PieceLength, span - (piece * PieceLength)))
                {
                    break;
                }
            }

            Completion.SetResult(read);
        }
    }
}
