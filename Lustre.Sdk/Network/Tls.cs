using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Lustre.Client;

namespace Lustre.Network;

/// <summary>
/// TLS 1.3 under the frames (issue 19). Servers present a certificate they make themselves, so a client cannot
/// check it against any authority; instead the shared-secret proofs of the handshake cover a hash of the certificate
/// the client saw (channel binding), so a man in the middle who ends TLS with a certificate of its own fails the
/// proofs both ways. Without a secret, TLS only hides the bytes from a passive listener.
/// </summary>
internal static class Tls
{
    /// <summary>The first byte of a TLS connection (a handshake record): a frame starts with 'L' (0x4C) instead.</summary>
    public const byte HandshakeRecord = 0x16;

    /// <summary>Whether a connection to <paramref name="endpoint"/> runs TLS under <paramref name="setting"/>.</summary>
    public static bool Wanted(TransportSecurity setting, EndPoint endpoint) => setting switch
    {
        TransportSecurity.Tls => true,
        TransportSecurity.Plain => false,
        _ => !Endpoints.IsLoopback(endpoint),
    };

    /// <summary>The client's side of the TLS handshake on a connected socket; the certificate is bound by the auth proofs, not checked here.</summary>
    public static async Task<SslStream> ConnectAsync(Socket socket, CancellationToken cancellationToken)
    {
        var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "lustre",
                    EnabledSslProtocols = SslProtocols.Tls13,
                    RemoteCertificateValidationCallback = static (_, certificate, _, _) => certificate is not null,
                },
                cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The server's side, with its own certificate.</summary>
    public static async Task<SslStream> AcceptAsync(Socket socket, X509Certificate2 certificate, CancellationToken cancellationToken)
    {
        var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions
                {
                    ServerCertificate = certificate,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    ClientCertificateRequired = false,
                },
                cancellationToken).ConfigureAwait(false);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What the auth proofs cover: SHA-256 of the server's certificate as this side sees it; empty without TLS.</summary>
    public static byte[] ChannelBinding(X509Certificate? certificate) =>
        certificate is null ? [] : SHA256.HashData(certificate.GetRawCertData());

    /// <summary>A self-signed ECDSA P-256 certificate for a server's TLS, made at its first TLS connection (its hash is bound by the proofs, so no authority signs it).</summary>
    public static X509Certificate2 CreateServerCertificate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(10));

        // A certificate with an ephemeral key is not usable by every TLS stack: round-trip it through PKCS#12.
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), password: null);
    }
}
