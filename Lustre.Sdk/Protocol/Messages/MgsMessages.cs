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

/// <summary>The filesystem configuration: name, default layout, targets and OST pools.</summary>
internal sealed record FilesystemConfig(string FsName, ulong Generation, long DefaultStripeSize, int DefaultStripeCount, IReadOnlyList<TargetRecord> Targets)
{
    public const int MaxFsNameLength = 8;
    public const int MaxTargets = 4096;

    /// <summary>The OST pools, in name order (trailing on the wire: a configuration without them has none).</summary>
    public IReadOnlyList<OstPoolRecord> Pools { get; init; } = [];

    /// <summary>The pool named <paramref name="name"/>, or null.</summary>
    public OstPoolRecord? FindPool(string name)
    {
        foreach (var pool in Pools)
        {
            if (pool.Name == name)
            {
                return pool;
            }
        }

        return null;
    }

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

        writer.WriteInt32(Pools.Count);
        foreach (var pool in Pools)
        {
            pool.Write(writer);
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

        var pools = reader.Remaining > 0 ? new OstPoolRecord[reader.ReadCount("pools", OstPoolRecord.MaxPools, 6)] : [];
        for (var i = 0; i < pools.Length; i++)
        {
            pools[i] = OstPoolRecord.Read(ref reader);
        }

        return new FilesystemConfig(fsName, generation, stripeSize, stripeCount, targets) { Pools = pools };
    }
}

/// <summary>An OST pool (Lustre's <c>lctl pool_new</c>): a name and the indexes of its OSTs, ascending.</summary>
internal sealed record OstPoolRecord(string Name, IReadOnlyList<int> Osts)
{
    /// <summary>The most pools a filesystem has here (Lustre sets no limit; this bounds a configuration reply).</summary>
    public const int MaxPools = 1024;

    public void Write(BodyWriter writer)
    {
        writer.WriteString(Name);
        writer.WriteInt32(Osts.Count);
        foreach (var ost in Osts)
        {
            writer.WriteInt32(ost);
        }
    }

    public static OstPoolRecord Read(ref BodyReader reader)
    {
        var name = reader.ReadString("pool name", Layouts.LayoutDefaults.MaxPoolNameLength);
        var count = reader.ReadCount("pool OSTs", FilesystemConfig.MaxTargets, 4);
        var osts = new int[count];
        for (var i = 0; i < count; i++)
        {
            osts[i] = reader.ReadInt32("pool OST index");
        }

        return new OstPoolRecord(name, osts);
    }

    /// <summary>True when the OST with index <paramref name="ost"/> is in the pool.</summary>
    public bool Contains(int ost)
    {
        foreach (var member in Osts)
        {
            if (member == ost)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>What an <see cref="PoolRequest"/> does, as <c>lctl pool_new</c>, <c>pool_add</c>, <c>pool_remove</c>, <c>pool_destroy</c>.</summary>
internal enum PoolOperation : byte
{
    New = 1,
    Add = 2,
    Remove = 3,
    Destroy = 4,
}

/// <summary>Changes an OST pool on the MGS (<see cref="Opcode.MgsPool"/>); <see cref="OstIndex"/> is for add and remove only (-1 otherwise).</summary>
internal readonly record struct PoolRequest(PoolOperation Operation, string Pool, int OstIndex)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteByte((byte)Operation);
        writer.WriteString(Pool);
        writer.WriteInt32(OstIndex);
    }

    public static PoolRequest Read(ref BodyReader reader)
    {
        var operation = (PoolOperation)reader.ReadByte("operation");
        if (operation is not (PoolOperation.New or PoolOperation.Add or PoolOperation.Remove or PoolOperation.Destroy))
        {
            throw new ProtocolException($"Unknown pool operation {(byte)operation}.");
        }

        return new PoolRequest(operation, reader.ReadString("pool", 64), reader.ReadInt32("ost_index"));
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
