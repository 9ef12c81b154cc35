namespace Lustre.Protocol.Messages;

/// <summary>What a <see cref="GetParamRequest"/> asks for (<c>lctl get_param</c> and <c>list_param</c> options).</summary>
[Flags]
internal enum GetParamFlags : byte
{
    None = 0,

    /// <summary>Names only, no values (<c>lctl list_param</c>); directories are listed too.</summary>
    NamesOnly = 0x1,

    /// <summary>Everything below each directory matched as well (<c>-R</c>).</summary>
    Recursive = 0x2,
}

/// <summary>What a <see cref="ParamEntry"/> is.</summary>
[Flags]
internal enum ParamEntryFlags : byte
{
    None = 0,

    /// <summary><c>set_param</c> may change it.</summary>
    Writable = 0x1,

    /// <summary>A directory of parameters: it has no value.</summary>
    Directory = 0x2,

    /// <summary>The value was longer than the reply's bulk could carry and was cut at that length.</summary>
    Truncated = 0x4,
}

/// <summary>
/// <c>GetParam</c> (opcode 4, any server): the parameters of that server's tree named by the patterns, from the
/// <paramref name="Skip"/>th on (the entries of earlier replies), values in the reply's bulk up to <paramref name="MaxBulk"/>
/// bytes.
/// </summary>
internal sealed record GetParamRequest(GetParamFlags Flags, int MaxBulk, int Skip, IReadOnlyList<string> Patterns)
{
    public const int MaxPatterns = 64;
    public const int MaxPatternLength = 256;

    public void Write(BodyWriter writer)
    {
        writer.WriteByte((byte)Flags);
        writer.WriteInt32(MaxBulk);
        writer.WriteInt32(Skip);
        writer.WriteInt32(Patterns.Count);
        foreach (var pattern in Patterns)
        {
            writer.WriteString(pattern);
        }
    }

    public static GetParamRequest Read(ref BodyReader reader)
    {
        var flags = (GetParamFlags)reader.ReadByte("flags");
        var maxBulk = reader.ReadInt32("max_bulk");
        var skip = reader.ReadInt32("skip");
        if (maxBulk is < 0 or > ProtocolLimits.MaxBulkLength || skip < 0)
        {
            throw new ProtocolException($"max_bulk {maxBulk} must be 0 to {ProtocolLimits.MaxBulkLength} and skip {skip} at least 0.");
        }

        var count = reader.ReadCount("patterns", MaxPatterns, 2);
        var patterns = new string[count];
        for (var i = 0; i < count; i++)
        {
            patterns[i] = reader.ReadString("pattern", MaxPatternLength);
        }

        return new GetParamRequest(flags, maxBulk, skip, patterns);
    }

    /// <summary>The reply bulk a request asks room for, read without validating the rest of the body (0 when malformed).</summary>
    public static int PeekMaxBulk(ReadOnlySpan<byte> body) =>
        body.Length >= 5 ? Math.Clamp(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(body[1..]), 0, ProtocolLimits.MaxBulkLength) : 0;
}

/// <summary>One parameter or directory of a <see cref="GetParamReply"/>; its value is the next <see cref="ValueLength"/> bytes of the bulk.</summary>
internal readonly record struct ParamEntry(string Name, ParamEntryFlags Flags, int ValueLength)
{
    public const int MaxNameLength = 256;

    /// <summary>Name length, flags, value length.</summary>
    public const int MinEncodedLength = 2 + 1 + 4;

    public int EncodedLength => MinEncodedLength + System.Text.Encoding.UTF8.GetByteCount(Name);

    public void Write(BodyWriter writer)
    {
        writer.WriteString(Name);
        writer.WriteByte((byte)Flags);
        writer.WriteInt32(ValueLength);
    }

    public static ParamEntry Read(ref BodyReader reader)
    {
        var name = reader.ReadString("name", MaxNameLength);
        var flags = (ParamEntryFlags)reader.ReadByte("flags");
        var length = reader.ReadInt32("value_length");
        return length < 0 ? throw new ProtocolException($"value_length {length} of '{name}' is negative.") : new ParamEntry(name, flags, length);
    }
}

/// <summary>
/// The answer to a <see cref="GetParamRequest"/>: entries in name order, their values back to back in the bulk.
/// <paramref name="More"/> when further entries did not fit: ask again with <c>skip</c> past these.
/// </summary>
internal sealed record GetParamReply(bool More, IReadOnlyList<ParamEntry> Entries)
{
    public const int MaxEntries = 4096;

    /// <summary>A reply's body stays under this, whatever the names.</summary>
    public const int MaxBodyBytes = 960 * 1024;

    public void Write(BodyWriter writer)
    {
        writer.WriteBoolean(More);
        writer.WriteInt32(Entries.Count);
        foreach (var entry in Entries)
        {
            entry.Write(writer);
        }
    }

    public static GetParamReply Read(ref BodyReader reader, int bulkLength)
    {
        var more = reader.ReadBoolean("more");
        var count = reader.ReadCount("entries", MaxEntries, ParamEntry.MinEncodedLength);
        var entries = new ParamEntry[count];
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            entries[i] = ParamEntry.Read(ref reader);
            total += entries[i].ValueLength;
        }

        return total != bulkLength
            ? throw new ProtocolException($"The values of {count} parameters take {total} bytes; the bulk holds {bulkLength}.")
            : new GetParamReply(more, entries);
    }
}

/// <summary><c>SetParam</c> (opcode 5, any server): <c>lctl set_param PATTERN=VALUE...</c> on that server's tree.</summary>
internal sealed record SetParamRequest(bool CheckOnly, IReadOnlyList<(string Pattern, string Value)> Settings)
{
    public const int MaxSettings = 64;
    public const int MaxValueLength = 4096;

    public void Write(BodyWriter writer)
    {
        writer.WriteByte(CheckOnly ? (byte)1 : (byte)0);
        writer.WriteInt32(Settings.Count);
        foreach (var (pattern, value) in Settings)
        {
            writer.WriteString(pattern);
            writer.WriteString(value);
        }
    }

    public static SetParamRequest Read(ref BodyReader reader)
    {
        var flags = reader.ReadByte("flags");
        var count = reader.ReadCount("settings", MaxSettings, 4);
        var settings = new (string, string)[count];
        for (var i = 0; i < count; i++)
        {
            settings[i] = (reader.ReadString("pattern", GetParamRequest.MaxPatternLength), reader.ReadString("value", MaxValueLength));
        }

        return new SetParamRequest((flags & 1) != 0, settings);
    }
}

/// <summary>What became of one parameter a <see cref="SetParamRequest"/> named: status 0, or the errno and why.</summary>
internal readonly record struct SetParamResult(string Name, LustreErrno Status, string Message)
{
    public const int MaxMessageLength = 1024;

    public void Write(BodyWriter writer)
    {
        writer.WriteString(Name);
        writer.WriteInt32((int)Status);
        writer.WriteString(Message.Length > MaxMessageLength ? Message[..MaxMessageLength] : Message);
    }

    public static SetParamResult Read(ref BodyReader reader)
    {
        var name = reader.ReadString("name", ParamEntry.MaxNameLength);
        var status = reader.ReadInt32("status");
        return status < 0
            ? throw new ProtocolException($"status {status} of '{name}' is negative.")
            : new SetParamResult(name, (LustreErrno)status, reader.ReadString("message", MaxMessageLength * 3));
    }
}

/// <summary>
/// The answer to a <see cref="SetParamRequest"/>: one result per parameter each setting named, in order; a setting that
/// named no parameter has one result with its pattern and ENOENT.
/// </summary>
internal sealed record SetParamReply(IReadOnlyList<SetParamResult> Results)
{
    public const int MaxResults = 4096;

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Results.Count);
        foreach (var result in Results)
        {
            result.Write(writer);
        }
    }

    public static SetParamReply Read(ref BodyReader reader)
    {
        var count = reader.ReadCount("results", MaxResults, 8);
        var results = new SetParamResult[count];
        for (var i = 0; i < count; i++)
        {
            results[i] = SetParamResult.Read(ref reader);
        }

        return new SetParamReply(results);
    }
}

/// <summary>What a <see cref="MgsParamsRequest"/> does to the MGS's persistent parameters.</summary>
internal enum MgsParamsOperation : byte
{
    /// <summary>Store <c>PATTERN=VALUE</c> (<c>lctl set_param -P</c>), replacing an earlier value of the same pattern.</summary>
    Set = 1,

    /// <summary>Forget a pattern (<c>lctl set_param -P -d</c>).</summary>
    Delete = 2,

    /// <summary>Only list them (servers at start, clients at connect).</summary>
    List = 3,
}

/// <summary><c>MgsParams</c> (opcode 15): the persistent parameters (<c>set_param -P</c>) the MGS keeps for every node.</summary>
internal readonly record struct MgsParamsRequest(MgsParamsOperation Operation, string Pattern, string Value)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteByte((byte)Operation);
        writer.WriteString(Pattern);
        writer.WriteString(Value);
    }

    public static MgsParamsRequest Read(ref BodyReader reader)
    {
        var operation = (MgsParamsOperation)reader.ReadByte("operation");
        if (operation is not (MgsParamsOperation.Set or MgsParamsOperation.Delete or MgsParamsOperation.List))
        {
            throw new ProtocolException($"Unknown persistent-parameter operation {(byte)operation}.");
        }

        return new MgsParamsRequest(operation, reader.ReadString("pattern", GetParamRequest.MaxPatternLength), reader.ReadString("value", SetParamRequest.MaxValueLength));
    }
}

/// <summary>The persistent parameters after a <see cref="MgsParamsRequest"/>, in the order they were first set.</summary>
internal sealed record MgsParamsReply(IReadOnlyList<(string Pattern, string Value)> Params)
{
    /// <summary>The most the MGS keeps.</summary>
    public const int MaxParams = 1024;

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Params.Count);
        foreach (var (pattern, value) in Params)
        {
            writer.WriteString(pattern);
            writer.WriteString(value);
        }
    }

    public static MgsParamsReply Read(ref BodyReader reader)
    {
        var count = reader.ReadCount("params", MaxParams, 4);
        var list = new (string, string)[count];
        for (var i = 0; i < count; i++)
        {
            list[i] = (reader.ReadString("pattern", GetParamRequest.MaxPatternLength), reader.ReadString("value", SetParamRequest.MaxValueLength));
        }

        return new MgsParamsReply(list);
    }
}
