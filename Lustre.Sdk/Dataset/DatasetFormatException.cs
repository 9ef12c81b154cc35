using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Dataset;

/// <summary>
/// A shard's bytes do not follow its format (corrupt, truncated, or another kind of file): the message and the properties
/// name the shard and the byte offset where the problem is. Not transient: reading again gives the same bytes.
/// </summary>
public sealed class DatasetFormatException : LustreException
{
    /// <summary>Creates the exception for <paramref name="shardPath"/> at <paramref name="offset"/>.</summary>
    public DatasetFormatException(string shardPath, long offset, string problem)
        : base($"{shardPath}: at offset {offset}: {problem}", LustreErrno.EIO, isTransient: false)
    {
        ShardPath = shardPath;
        Offset = offset;
    }

    /// <summary>Creates an exception with a message only.</summary>
    public DatasetFormatException(string message)
        : base(message)
    {
        ShardPath = string.Empty;
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    public DatasetFormatException(string message, Exception? innerException)
        : base(message, innerException)
    {
        ShardPath = string.Empty;
    }

    /// <summary>Creates an exception with no message.</summary>
    public DatasetFormatException()
    {
        ShardPath = string.Empty;
    }

    /// <summary>The shard file at fault.</summary>
    public string ShardPath { get; }

    /// <summary>The byte offset in the shard where the problem was found.</summary>
    public long Offset { get; }
}
