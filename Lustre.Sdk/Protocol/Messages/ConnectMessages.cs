namespace Lustre.Protocol.Messages;

/// <summary>Feature bits exchanged at connect; both sides use the intersection (Lustre's obd_connect_data).</summary>
[Flags]
internal enum ProtocolFeatures : ulong
{
    None = 0,

    /// <summary>Bulk payloads carry an XXH3-64 checksum the receiver verifies.</summary>
    BulkChecksumXxh3 = 1,

    /// <summary>The server answers resent modifying requests from its reply cache.</summary>
    ReplyReconstruction = 2,

    /// <summary>
    /// With <see cref="BulkChecksumXxh3"/>: each request says whether its bulk, and its reply's, are checksummed
    /// (<see cref="FrameFlags.NoBulkChecksum"/>), so a client turns checksums on and off per OST at run time.
    /// </summary>
    ChecksumPerRequest = 4,

    /// <summary>
    /// The client would move to a Unix-domain socket the server offers (<see cref="ConnectReply.LocalSocket"/>); the
    /// server offers one only on a connection from its own host's loopback.
    /// </summary>
    LocalSocket = 8,

    /// <summary>Everything this implementation speaks.</summary>
    All = BulkChecksumXxh3 | ReplyReconstruction | ChecksumPerRequest | LocalSocket,
}

/// <summary>
/// First request on every connection. <see cref="JobId"/> is a trailing field, written only when not empty: the job the
/// client works for, under which the targets count this connection's requests (Lustre's job stats).
/// </summary>
internal readonly record struct ConnectRequest(ushort Version, ProtocolFeatures Features, string ClientUuid, string JobId = "")
{
    public const int MaxUuidLength = 64;

    /// <summary>Lustre's LUSTRE_JOBID_SIZE (32) without its NUL.</summary>
    public const int MaxJobIdLength = 31;

    public void Write(BodyWriter writer)
    {
        writer.WriteUInt16(Version);
        writer.WriteUInt64((ulong)Features);
        writer.WriteString(ClientUuid);
        if (JobId.Length > 0)
        {
            writer.WriteString(JobId);
        }
    }

    public static ConnectRequest Read(ref BodyReader reader) => new(
        reader.ReadUInt16("version"),
        (ProtocolFeatures)reader.ReadUInt64("features"),
        reader.ReadString("client_uuid", MaxUuidLength),
        reader.Remaining > 0 ? reader.ReadString("job_id", MaxJobIdLength) : string.Empty);
}

/// <summary>
/// The server's answer to <see cref="ConnectRequest"/>: what was agreed, and the nonce to prove a secret over.
/// <see cref="LocalSocket"/> is a trailing field, written only when not empty: the Unix-domain socket (Linux abstract
/// name, a leading NUL) the client may reconnect to, with the same handshake, instead of this loopback connection.
/// </summary>
internal readonly record struct ConnectReply(ushort Version, ProtocolFeatures Features, byte[] Nonce, bool AuthRequired, int MaxBulkLength, string ServerName, string LocalSocket = "")
{
    public const int NonceLength = 32;

    /// <summary>Linux's sun_path holds 108 bytes.</summary>
    public const int MaxLocalSocketLength = 107;

    public void Write(BodyWriter writer)
    {
        writer.WriteUInt16(Version);
        writer.WriteUInt64((ulong)Features);
        writer.WriteBytes(Nonce);
        writer.WriteBoolean(AuthRequired);
        writer.WriteInt32(MaxBulkLength);
        writer.WriteString(ServerName);
        if (LocalSocket.Length > 0)
        {
            writer.WriteString(LocalSocket);
        }
    }

    public static ConnectReply Read(ref BodyReader reader) => new(
        reader.ReadUInt16("version"),
        (ProtocolFeatures)reader.ReadUInt64("features"),
        reader.ReadBytes("nonce", NonceLength).ToArray(),
        reader.ReadBoolean("auth_required"),
        reader.ReadInt32("max_bulk"),
        reader.ReadString("server_name", 256),
        reader.Remaining > 0 ? reader.ReadString("local_socket", MaxLocalSocketLength) : string.Empty);
}

/// <summary>
/// Proof that the client holds the shared secret (HMAC-SHA256 over the server's nonce and the client uuid), the
/// client's fresh nonce for the server to prove it holds the secret too, and the name of the key the secret is when
/// the server holds named keys (trailing fields: empty when absent).
/// </summary>
internal readonly record struct AuthRequest(byte[] Proof, byte[] ClientNonce, string KeyName = "")
{
    public const int ProofLength = 32;

    public void Write(BodyWriter writer)
    {
        writer.WriteBytes(Proof);
        writer.WriteBytes(ClientNonce);
        writer.WriteString(KeyName);
    }

    public static AuthRequest Read(ref BodyReader reader)
    {
        var proof = reader.ReadBytes("proof", ProofLength).ToArray();
        var nonce = reader.Remaining > 0 ? reader.ReadBytes("client_nonce", ConnectReply.NonceLength).ToArray() : [];
        var keyName = reader.Remaining > 0 ? reader.ReadString("key_name", SharedSecrets.MaxKeyNameLength) : string.Empty;
        return new(proof, nonce, keyName);
    }
}

/// <summary>The server's answer to a good <see cref="AuthRequest"/>: its proof over the client's nonce (<see cref="AuthProof.ComputeServer"/>).</summary>
internal readonly record struct AuthReply(byte[] ServerProof)
{
    public void Write(BodyWriter writer) => writer.WriteBytes(ServerProof);

    public static AuthReply Read(ref BodyReader reader) => new(reader.ReadBytes("server_proof", AuthRequest.ProofLength).ToArray());
}
