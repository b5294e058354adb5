using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using XdsControlPlane.Server.Hosting;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// The host's side of authenticated xDS: the flags, the refusal to serve a network in cleartext, and the whole
/// control plane behind mutual TLS serving only its node.
/// </summary>
public sealed class XdsSecurityTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("xds-host-tls-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void TheTlsAndNodeFlagsAreRead_InKubernetesModeToo()
    {
        var (cert, key, ca, _, _) = WriteCertificates();
        var result = ParseAll(["--source", "kubernetes", "--tls-cert-file", cert, "--tls-key-file=" + key, "--client-ca-file", ca,
            "-envoy-node-name=np", "--envoy-cluster-name", "np-cluster", "--listen-address", "0.0.0.0:8001"]);
        var options = result.Server!;
        Assert.Equal((cert, key, ca), (options.TlsCertFile, options.TlsKeyFile, options.ClientCaFile));
        Assert.Equal("np", options.EnvoyNodeName);
        Assert.Equal("np-cluster", options.EnvoyClusterName);
        Assert.False(options.Insecure);
        Assert.NotNull(result.Kubernetes);
    }

    [Fact]
    public void TheDefaultsStayLoopbackCleartextForNodeKube()
    {
        var options = Parse([]);
        Assert.Null(options.XdsTls);
        Assert.False(options.Insecure);
        Assert.Equal("kube", options.EnvoyNodeName);
        Assert.Null(options.EnvoyClusterName);
        // envoy-manager's flag is accepted in folder mode too.
        Assert.Equal("np", Parse(["-envoy-node-name", "np"]).EnvoyNodeName);
    }

    [Theory]
    [InlineData("0.0.0.0:8001")]
    [InlineData(":8001")]
    [InlineData("10.1.2.3:8001")]
    [InlineData("[::]:8001")]
    public void ANonLoopbackListenerWithoutTls_IsRefused_UnlessInsecure(string address)
    {
        var error = Assert.Throws<ArgumentException>(() => Parse(["--listen-address", address]));
        Assert.Contains("--insecure", error.Message, StringComparison.Ordinal);
        Assert.Contains("--tls-cert-file", error.Message, StringComparison.Ordinal);
        Assert.True(Parse(["--listen-address", address, "--insecure"]).Insecure);
        // A switch: the flag after it is still read as a flag.
        Assert.Equal("/tmp/in", Parse(["--insecure", "--input", "/tmp/in", "--listen-address", address]).Input);
    }

    [Fact]
    public void ANonLoopbackListenerWithTls_NeedsNoInsecure()
    {
        var (cert, key, ca, _, _) = WriteCertificates();
        var options = Parse(["--listen-address", "0.0.0.0:8001", "--tls-cert-file", cert, "--tls-key-file", key, "--client-ca-file", ca]);
        Assert.NotNull(options.XdsTls);
    }

    [Fact]
    public void TlsFilesGivenInPart_OrThatDoNotLoad_AreRefused()
    {
        var (cert, key, ca, _, _) = WriteCertificates();
        Assert.Contains("--client-ca-file", Assert.Throws<ArgumentException>(() =>
            Parse(["--tls-cert-file", cert, "--tls-key-file", key])).Message, StringComparison.Ordinal);
        var missing = Path.Combine(_folder, "missing.crt");
        var error = Assert.Throws<ArgumentException>(() => Parse(["--tls-cert-file", missing, "--tls-key-file", key, "--client-ca-file", ca]));
        Assert.Contains("missing.crt", error.Message, StringComparison.Ordinal);
        // The CA file given as the key: no private key in it.
        Assert.Throws<ArgumentException>(() => Parse(["--tls-cert-file", cert, "--tls-key-file", ca, "--client-ca-file", ca]));
    }

    [Fact]
    public async Task TheExecutable_ExitsWithStatus2AndOneErrorLine_ForANetworkListenerInCleartext()
    {
        var server = typeof(ServerOptions).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in (string[])[server, "--listen-address", "0.0.0.0:0", "--input", _folder])
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(2, process.ExitCode);
        var line = Assert.Single((await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("xds-control-plane: --listen-address 0.0.0.0:0 is not loopback", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheControlPlaneBehindMutualTls_ServesItsNodeToATrustedClientOnly()
    {
        var (cert, key, caFile, ca, client) = WriteCertificates();
        var example = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed");
        var input = Directory.CreateDirectory(Path.Combine(_folder, "seed")).FullName;
        foreach (var file in Directory.GetFiles(example))
        {
            File.Copy(file, Path.Combine(input, Path.GetFileName(file)));
        }
        await using var app = ControlPlaneApp.Build(new ServerOptions
        {
            Input = input,
            ListenAddress = new IPEndPoint(IPAddress.Loopback, 0),
            DebugAddress = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsAddress = new IPEndPoint(IPAddress.Loopback, 0), // tests run side by side: never the fixed default port
            TlsCertFile = cert,
            TlsKeyFile = key,
            ClientCaFile = caFile,
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Assert.StartsWith("https://", address, StringComparison.Ordinal);

        using var trusted = Channel(address, ca, client);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ads = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(trusted);
        using (var stream = ads.StreamAggregatedResources(cancellationToken: cts.Token))
        {
            await stream.RequestStream.WriteAsync(new DiscoveryRequest
            {
                Node = new Envoy.Config.Core.V3.Node { Id = "kube", Cluster = "np-cluster" },
                TypeUrl = Snapshots.TypeUrls.Cluster,
            });
            Assert.True(await stream.ResponseStream.MoveNext(cts.Token));
            Assert.NotEmpty(stream.ResponseStream.Current.Resources);
        }
        using (var other = ads.StreamAggregatedResources(cancellationToken: cts.Token))
        {
            await other.RequestStream.WriteAsync(new DiscoveryRequest
            {
                Node = new Envoy.Config.Core.V3.Node { Id = "someone-else" },
                TypeUrl = Snapshots.TypeUrls.Cluster,
            });
            var denied = await Assert.ThrowsAsync<RpcException>(() => other.ResponseStream.MoveNext(cts.Token));
            Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        }

        using var anonymous = Channel(address, ca, clientCertificate: null);
        using var refused = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(anonymous).StreamAggregatedResources(cancellationToken: cts.Token);
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await refused.RequestStream.WriteAsync(new DiscoveryRequest { Node = new Envoy.Config.Core.V3.Node { Id = "kube" } });
            await refused.ResponseStream.MoveNext(cts.Token);
        });
        Assert.True(error is RpcException { StatusCode: StatusCode.Unavailable or StatusCode.Internal } or IOException or InvalidOperationException, error.ToString());
        await app.StopAsync();
    }

    private static GrpcChannel Channel(string address, X509Certificate2 ca, X509Certificate2? clientCertificate) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            DisposeHttpClient = true,
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    {
                        using var chain = new X509Chain();
                        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                        chain.ChainPolicy.CustomTrustStore.Add(ca);
                        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                        return certificate is not null && chain.Build(new X509Certificate2(certificate));
                    },
                },
            },
        });

    /// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate, the first two as PEM files.</summary>
    private (string Cert, string Key, string Ca, X509Certificate2 CaCertificate, X509Certificate2 Client) WriteCertificates() => WriteCertificates(_folder);

    /// <summary>The one command line as the executable reads it (not in a pod); its error as an ArgumentException.</summary>
    private static CommandLineResult ParseAll(string[] args)
    {
        var result = ControlPlaneCommandLine.Parse(args, _ => null);
        return result.Error is null ? result : throw new ArgumentException(result.Error);
    }

    private static ServerOptions Parse(string[] args) => ParseAll(args).Server!;

    /// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate; the PEM files written to <paramref name="folder"/>.</summary>
    internal static (string Cert, string Key, string Ca, X509Certificate2 CaCertificate, X509Certificate2 Client) WriteCertificates(string folder)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=host test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        var server = Issue(ca, "xds", "1.3.6.1.5.5.7.3.1", san: true);
        var client = Issue(ca, "envoy", "1.3.6.1.5.5.7.3.2", san: false);
        var paths = (Cert: Path.Combine(folder, "tls.crt"), Key: Path.Combine(folder, "tls.key"), Ca: Path.Combine(folder, "ca.crt"));
        File.WriteAllText(paths.Cert, server.ExportCertificatePem());
        File.WriteAllText(paths.Key, server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(paths.Ca, ca.ExportCertificatePem());
        return (paths.Cert, paths.Key, paths.Ca, ca, client);

        static X509Certificate2 Issue(X509Certificate2 ca, string name, string usage, bool san)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
            if (san)
            {
                var names = new SubjectAlternativeNameBuilder();
                names.AddIpAddress(IPAddress.Loopback);
                request.CertificateExtensions.Add(names.Build());
            }
            var serial = RandomNumberGenerator.GetBytes(8);
            serial[0] &= 0x7F;
            using var issued = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddHours(1), serial);
            return issued.CopyWithPrivateKey(key);
        }
    }
}
