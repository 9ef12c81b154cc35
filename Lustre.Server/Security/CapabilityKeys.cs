using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Lustre.Layouts;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Security;

/// <summary>
/// Signs and verifies OST capabilities (<see cref="FileCapability"/>) with keys derived from the key file's server
/// keys, which clients never hold. A tag is HMAC-SHA256 over the client key's name, the object, the rights and the
/// expiry, cut to 16 bytes: it is good for that key, that object and those rights until then, and for nothing else.
/// The MDS signs with the first server key; an OSS accepts any (so a server key is rotated as any other key).
/// </summary>
internal sealed class CapabilityKeys
{
    /// <summary>How long a capability is good for by default (Lustre's capability timeout is an hour too).</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);

    private readonly byte[][] _keys;

    private CapabilityKeys(byte[][] keys, TimeSpan lifetime)
    {
        _keys = keys;
        Lifetime = lifetime;
    }

    public TimeSpan Lifetime { get; }

    /// <summary>The keys of a key file's server keys; null without a key file (no client key, so nothing to check).</summary>
    public static CapabilityKeys? From(IReadOnlyList<NamedKey>? keys, TimeSpan lifetime)
    {
        var secrets = keys?.Where(k => k.Role == KeyRole.Server).Select(k => Derive(k.Secret)).ToArray();
        return secrets is { Length: > 0 } ? new CapabilityKeys(secrets, lifetime) : null;
    }

    /// <summary>A capability for <paramref name="keyName"/> to use <paramref name="objects"/> with <paramref name="rights"/> until <see cref="Lifetime"/> from now.</summary>
    public byte[] Issue(string keyName, CapabilityRights rights, IReadOnlyList<OstObject> objects) =>
        Issue(keyName, rights, DateTimeOffset.UtcNow.Add(Lifetime).ToUnixTimeMilliseconds(), objects);

    public byte[] Issue(string keyName, CapabilityRights rights, long expiresMs, IReadOnlyList<OstObject> objects) =>
        FileCapability.Encode(rights, expiresMs, objects, (obj, tag) => Tag(_keys[0], keyName, obj, rights, expiresMs, tag));

    /// <summary>Whether <paramref name="tag"/> was signed by a server for exactly this key, object, rights and expiry.</summary>
    public bool Verify(string keyName, OstObject obj, CapabilityRights rights, long expiresMs, ReadOnlySpan<byte> tag)
    {
        Span<byte> expected = stackalloc byte[FileCapability.TagLength];
        foreach (var key in _keys)
        {
            Tag(key, keyName, obj, rights, expiresMs, expected);
            if (CryptographicOperations.FixedTimeEquals(expected, tag))
            {
                return true;
            }
        }

        return false;
    }

    private static byte[] Derive(byte[] serverSecret) => HMACSHA256.HashData(serverSecret, "lustre ost capability v1"u8);

    private static void Tag(byte[] key, string keyName, OstObject obj, CapabilityRights rights, long expiresMs, Span<byte> tag)
    {
        // Key names are at most 64 ASCII characters (SharedSecrets.MaxKeyNameLength).
        Span<byte> input = stackalloc byte[1 + 256 + 4 + 8 + 1 + 8];
        var name = Encoding.UTF8.GetBytes(keyName, input[1..257]);
        input[0] = (byte)name;
        var at = 1 + name;
        BinaryPrimitives.WriteInt32LittleEndian(input[at..], obj.OstIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(input[(at + 4)..], obj.ObjectId);
        input[at + 12] = (byte)rights;
        BinaryPrimitives.WriteInt64LittleEndian(input[(at + 13)..], expiresMs);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, input[..(at + 21)], mac);
        mac[..FileCapability.TagLength].CopyTo(tag);
    }
}
