namespace Lustre.Checkpoints;

/// <summary>How far a checkpoint save has come; each state implies the ones before it.</summary>
public enum CheckpointSaveStatus
{
    /// <summary>Every tensor was copied into staging memory: the caller may change its tensors again.</summary>
    Staged,

    /// <summary>Bytes are on their way to the OSTs.</summary>
    Writing,

    /// <summary>This rank's files are durable on the OSTs (flushed), but the checkpoint is not visible yet.</summary>
    Durable,

    /// <summary>The manifest is durable and the checkpoint directory was renamed into place: loaders see it.</summary>
    Committed,

    /// <summary>The save failed or was cancelled; the checkpoint is not visible and the previous one is intact.</summary>
    Failed,
}
