namespace Lustre.Client;

/// <summary>Whether a connection to a server runs over TLS (<see cref="LustreClientOptions.Transport"/>).</summary>
public enum TransportSecurity
{
    /// <summary>TLS 1.3 to servers reached over a network, plain TCP to servers on this host's loopback (the default).</summary>
    Auto,

    /// <summary>Plain TCP to every server (a server that requires TLS from this client refuses the connection).</summary>
    Plain,

    /// <summary>TLS 1.3 to every server, loopback included.</summary>
    Tls,
}
