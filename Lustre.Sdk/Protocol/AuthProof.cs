using System.Security.Cryptography;
using System.Text;

namespace Lustre.Protocol;

/// <summary>
/// The shared-secret proofs of the connect handshake, both ways. The client's: HMAC-SHA256 keyed by the secret over
/// the server's fresh nonce and the client's uuid. The server's, over the client's fresh nonce too, so a recorded
/// answer cannot be replayed to a client: HMAC-SHA256(secret, "lustre-server" || server nonce || client nonce ||
/// client uuid). The secret itself never travels. Over TLS both also cover the channel binding (SHA-256 of the
/// server's certificate as each side sees it, <see cref="Network.Tls.ChannelBinding"/>), so a man in the middle
/// that ends TLS itself fails both proofs; over plain TCP the binding is empty and the proofs are as before.
/// </summary>
internal static class AuthProof
{
    private static readonly byte[] ServerLabel = "lustre-server"u8.ToArray();

    /// <summary>The server's proof that it holds the secret too.</summary>
    public static byte[] ComputeServer(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce, string clientUuid, ReadOnlySpan<byte> binding = default)
    {
        var uuid = Encoding.UTF8.GetBytes(clientUuid);
        var message = new byte[ServerLabel.Length + serverNonce.Length + clientNonce.Length + uuid.Length + binding.Length];
        ServerLabel.CopyTo(message, 0);
        serverNonce.CopyTo(message.AsSpan(ServerLabel.Length));
        clientNonce.CopyTo(message.AsSpan(ServerLabel.Length + serverNonce.Length));
        uuid.CopyTo(message.AsSpan(ServerLabel.Length + serverNonce.Length + clientNonce.Length));
        binding.CopyTo(message.AsSpan(ServerLabel.Length + serverNonce.Length + clientNonce.Length + uuid.Length));
        return HMACSHA256.HashData(secret, message);
    }

    public static bool VerifyServer(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> serverNonce, ReadOnlySpan<byte> clientNonce, string clientUuid, ReadOnlySpan<byte> proof, ReadOnlySpan<byte> binding = default) =>
        CryptographicOperations.FixedTimeEquals(ComputeServer(secret, serverNonce, clientNonce, clientUuid, binding), proof);

    public static byte[] Compute(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nonce, string clientUuid, ReadOnlySpan<byte> binding = default)
    {
        var uuid = Encoding.UTF8.GetBytes(clientUuid);
        var message = new byte[nonce.Length + uuid.Length + binding.Length];
        nonce.CopyTo(message);
        uuid.CopyTo(message.AsSpan(nonce.Length));
        binding.CopyTo(message.AsSpan(nonce.Length + uuid.Length));
        return HMACSHA256.HashData(secret, message);
    }

    public static bool Verify(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> nonce, string clientUuid, ReadOnlySpan<byte> proof, ReadOnlySpan<byte> binding = default) =>
        CryptographicOperations.FixedTimeEquals(Compute(secret, nonce, clientUuid, binding), proof);
}
