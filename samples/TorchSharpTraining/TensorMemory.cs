using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace TorchSharpTraining;

/// <summary>
/// A CPU tensor's storage as <see cref="Memory{T}"/> of bytes, without copying it: a checkpoint save copies from it into
/// its staging memory, and a load reads the file's bytes straight into it. libtorch never moves a tensor's storage, so
/// pinning needs nothing. The tensor must stay alive, contiguous and on the CPU while the memory is in use.
/// </summary>
internal sealed unsafe class TensorMemory(Tensor tensor) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => tensor.bytes;

    public override MemoryHandle Pin(int elementIndex = 0) =>
        new((byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes)) + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
