using System.Security.Cryptography;
using System.Text;

namespace Lustre.Protocol;

/// <summary>
/// The shared-secret proofs of the connect handshake, both ways. The client's: HMAC-SHA256 keyed by the secret over
/// the server's fresh nonce and the client's uuid. The server's, over the client's fresh nonce too, so a recorded
/// answer cannot be replayed to a client: HMAC-SHA256(secret, "lustre-server" || server nonce || client nonce ||
/// client uuid). The secret itself never travels.
/// </summary>
internal static class AuthProof
{
    private static readonly byte[] ServerLabel = "lustre-server"u8.ToArray();

    /// <summary>The server's proof that it holds the secret too.</summary>
    public static byte[] ComputeServer(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce, string clientUuid)
    {
        var uuid = Encoding.UTF8.GetBytes(clientUuid);
        var message = new byte[ServerLabel.Length + serverNonce.Length + clientNonce.Length + uuid.Length];
        ServerLabel.CopyTo(message, 0);
        serverNonce.CopyTo(message.AsSpan(ServerLabel.Length));
        clientNonce.CopyTo(message.AsSpan(ServerLabel.Length + serverNonce.Length));
        uuid.CopyTo(message.AsSpan(ServerLabel.Length + serverNonce.Length + clientNonce.Length));
        return HMACSHA256.HashData(secret, message);
    }

    public static bool VerifyServer(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce, string clientUuid, ReadOnlySpan<byte> proof) =>
        CryptographicOperations.FixedTimeEquals(ComputeServer(secret, serverNonce, clientNonce, clientUuid), proof);

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
