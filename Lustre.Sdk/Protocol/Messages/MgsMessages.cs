namespace Lustre.Protocol.Messages;

/// <summary>The kind of a storage target.</summary>
internal enum TargetKind : byte
{
    Mdt = 1,
    Ost = 2,
}

/// <summary>One target in the filesystem configuration held by the MGS.</summary>
internal readonly record struct TargetRecord(TargetKind Kind, int Index, string Address, bool Active)
{
    public const int MaxAddressLength = 256;

    public void Write(BodyWriter writer)
    {
        writer.WriteByte((byte)Kind);
        writer.WriteInt32(Index);
        writer.WriteString(Address);
        writer.WriteBoolean(Active);
    }

    public static TargetRecord Read(ref BodyReader reader)
    {
        var kind = (TargetKind)reader.ReadByte("kind");
        if (kind is not (TargetKind.Mdt or TargetKind.Ost))
        {
            throw new ProtocolException($"Unknown target kind {(byte)kind}.");
        }

        return new TargetRecord(kind, reader.ReadInt32("index"), reader.ReadString("address", MaxAddressLength), reader.ReadBoolean("active"));
    }
}

/// <summary>A target announcing itself to the MGS at start.</summary>
internal readonly record struct RegisterTargetRequest(TargetRecord Target)
{
    public void Write(BodyWriter writer) => Target.Write(writer);

    public static RegisterTargetRequest Read(ref BodyReader reader) => new(TargetRecord.Read(ref reader));
}

/// <summary>The filesystem configuration: name, default layout, targets.</summary>
internal sealed record FilesystemConfig(string FsName, ulong Generation, long DefaultStripeSize, int DefaultStripeCount, IReadOnlyList<TargetRecord> Targets)
{
    public const int MaxFsNameLength = 8;
    public const int MaxTargets = 4096;

    public void Write(BodyWriter writer)
    {
        writer.WriteString(FsName);
        writer.WriteUInt64(Generation);
        writer.WriteInt64(DefaultStripeSize);
        writer.WriteInt32(DefaultStripeCount);
        writer.WriteInt32(Targets.Count);
        foreach (var target in Targets)
        {
            target.Write(writer);
        }
    }

    public static FilesystemConfig Read(ref BodyReader reader)
    {
        var fsName = reader.ReadString("fsname", MaxFsNameLength);
        var generation = reader.ReadUInt64("generation");
        var stripeSize = reader.ReadInt64("default_stripe_size");
        var stripeCount = reader.ReadInt32("default_stripe_count");
        var count = reader.ReadCount("targets", MaxTargets, 8);
        var targets = new TargetRecord[count];
        for (var i = 0; i < count; i++)
        {
            targets[i] = TargetRecord.Read(ref reader);
        }

        return new FilesystemConfig(fsName, generation, stripeSize, stripeCount, targets);
    }
}

/// <summary>Marks a target active or inactive (an inactive OST gets no new objects).</summary>
internal readonly record struct SetTargetStateRequest(TargetKind Kind, int Index, bool Active)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteByte((byte)Kind);
        writer.WriteInt32(Index);
        writer.WriteBoolean(Active);
    }

    public static SetTargetStateRequest Read(ref BodyReader reader)
    {
        var kind = (TargetKind)reader.ReadByte("kind");
        return kind is TargetKind.Mdt or TargetKind.Ost
            ? new SetTargetStateRequest(kind, reader.ReadInt32("index"), reader.ReadBoolean("active"))
            : throw new ProtocolException($"Unknown target kind {(byte)kind}.");
    }
}
