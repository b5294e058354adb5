namespace XdsControlPlane.Xds.Transport;

/// <summary>The PEM files of the xDS listener's mutual TLS.</summary>
/// <param name="CertFile">The server certificate, optionally followed by its intermediates.</param>
/// <param name="KeyFile">The server certificate's private key.</param>
/// <param name="ClientCaFile">The CA certificates a client certificate must chain to (and only these).</param>
public sealed record XdsTlsFiles(string CertFile, string KeyFile, string ClientCaFile);
