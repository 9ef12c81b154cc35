namespace Lustre.Checkpoints;

/// <summary>How a <see cref="CheckpointManager"/> stores its data files. See <c>docs/checkpoints.md</c> for the compressed layout.</summary>
public enum CheckpointCompression
{
    /// <summary>Plain <c>.safetensors</c> files that any safetensors reader opens (the default).</summary>
    None = 0,

    /// <summary>
    /// <c>.safetensors.zst</c> files: each chunk of the safetensors content compressed as an independent zstd frame,
    /// the frames back to back, their offsets and checksums in the manifest, so chunks still load in parallel.
    /// <c>zstd -d</c> turns such a file back into the plain safetensors file. A file whose sample would not shrink
    /// by an eighth (trained F32 weights, for one) is stored as a plain <c>.safetensors</c> file instead, and a chunk
    /// that would not, as a zstd frame of raw blocks.
    /// </summary>
    Zstd = 1,
}
