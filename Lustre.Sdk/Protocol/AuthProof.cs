using System.Security.Cryptography;
using System.Text;

namespace Lustre.Protocol;

/// <summary>
/// The shared-secret proof of the connect handshake: HMAC-SHA256 keyed by the secret over the server's
/// fresh nonce and the client's uuid. The secret itself never travels.
/// </summary>
internal static class AuthProof
{
    public static byte[] Compute(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nonce, string clientUuid)
    {
        var uuid = Encoding.UTF8.GetBytes(clientUuid);
        var message = new byte[nonce.Length + uuid.Length];
        nonce.CopyTo(message);
        uuid.CopyTo(message.AsSpan(nonce.Length));
        return HMACSHA256.HashData(secret, message);
    }

    public static bool Verify(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nonce, string clientUuid, ReadOnlySpan<byte> proof) =>
        CryptographicOperations.FixedTimeEquals(Compute(secret, nonce, clientUuid), proof);
}
