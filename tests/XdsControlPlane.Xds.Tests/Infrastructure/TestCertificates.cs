using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using XdsControlPlane.Xds.Transport;

namespace XdsControlPlane.Xds.Tests.Infrastructure;

/// <summary>
/// Real X.509 certificates made for a test: CAs, a server certificate for 127.0.0.1/localhost, client
/// certificates, written as PEM files the way an operator (or cert-manager) would leave them.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuth = new("1.3.6.1.5.5.7.3.2");

    public TestCertificates()
    {
        Folder = Directory.CreateTempSubdirectory("xds-tls-").FullName;
        Ca = CreateCa("xds test CA");
        OtherCa = CreateCa("another CA");
        Server = Issue(Ca, "xds-control-plane", server: true);
        Client = Issue(Ca, "envoy", server: false);
        UntrustedClient = Issue(OtherCa, "envoy", server: false);
        Files = new XdsTlsFiles(Path.Combine(Folder, "tls.crt"), Path.Combine(Folder, "tls.key"), Path.Combine(Folder, "ca.crt"));
        WriteServer(Server);
        WriteClientCa(Ca);
    }

    public string Folder { get; }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 OtherCa { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public X509Certificate2 UntrustedClient { get; }

    public XdsTlsFiles Files { get; }

    /// <summary>Replaces the server certificate and key files on disk (as a renewal does).</summary>
    public void WriteServer(X509Certificate2 certificate)
    {
        File.WriteAllText(Files.CertFile, certificate.ExportCertificatePem());
        File.WriteAllText(Files.KeyFile, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Replaces the client CA bundle on disk.</summary>
    public void WriteClientCa(params X509Certificate2[] cas) =>
        File.WriteAllText(Files.ClientCaFile, string.Concat(cas.Select(ca => ca.ExportCertificatePem() + "\n")));

    public static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>A leaf certificate signed by <paramref name="ca"/>: for 127.0.0.1 and localhost when a server's.</summary>
    public static X509Certificate2 Issue(X509Certificate2 ca, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([server ? ServerAuth : ClientAuth], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddHours(12), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>
    /// A gRPC channel over TLS to <paramref name="address"/> that trusts <see cref="Ca"/> only, presents
    /// <paramref name="clientCertificate"/> (or none), and reports the certificate the server presented.
    /// </summary>
    public GrpcChannel Channel(string address, X509Certificate2? clientCertificate, Action<X509Certificate2>? serverPresented = null)
    {
        var ca = Ca;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                LocalCertificateSelectionCallback = clientCertificate is null ? null : (_, _, _, _, _) => clientCertificate,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }
                    var presented = new X509Certificate2(certificate);
                    serverPresented?.Invoke(presented);
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(presented);
                },
            },
            // One connection per channel: a test that makes a new channel makes a new handshake.
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        };
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is no test failure.
        }
    }
}
