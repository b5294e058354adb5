using System.Net;
using XdsControlPlane.Xds.Transport;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// The host's settings. The one command line (<see cref="ControlPlaneCommandLine"/>) produces them, together with the
/// Kubernetes source's (<c>KubernetesSourceOptions</c>) when that source is chosen, and checks them with
/// <see cref="Validate"/>.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>"folder" (the file-based source) or "kubernetes".</summary>
    public string Source { get; init; } = "folder";

    public string Input { get; init; } = "envoy-config/examples/aws-seed";

    /// <summary>
    /// Where Envoy connects (gRPC over HTTP/2: cleartext, or mutual TLS with the TLS files). envoy-manager's
    /// <c>-listen-address</c>. Not loopback needs TLS, or <see cref="Insecure"/>.
    /// </summary>
    public IPEndPoint ListenAddress { get; init; } = new(IPAddress.Loopback, 8001);

    /// <summary>The debug endpoint (HTTP JSON); loopback by default: it shows every tenant's policy.</summary>
    public IPEndPoint DebugAddress { get; init; } = new(IPAddress.Loopback, 8080);

    /// <summary>
    /// <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> (HTTP/1.1): what Prometheus and the kubelet reach, without the policy
    /// views. Loopback by default; in a pod bind it to the pod address (<c>:8090</c>) so probes and scrapes reach it.
    /// </summary>
    public IPEndPoint MetricsAddress { get; init; } = new(IPAddress.Loopback, 8090);

    /// <summary>
    /// How long a narrowing's drain may wait so that narrowings are drained together (see
    /// <c>ConfigPipeline.RevocationDelay</c>); <c>0</c> renames at once. New connections are refused at once either way.
    /// </summary>
    public TimeSpan RevocationDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The xDS listener's certificate (PEM, optionally followed by intermediates). With <see cref="TlsKeyFile"/> and
    /// <see cref="ClientCaFile"/> it turns the listener to mutual TLS; the files are re-read when they change.
    /// </summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The private key of <see cref="TlsCertFile"/> (PEM).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>The CA certificates (PEM) a client certificate must chain to; only these, never the system store.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>
    /// Allows xDS without TLS on a non-loopback address (anyone who reaches the port is served every tenant's
    /// configuration): for a network that is itself trusted. Without it such a start is refused.
    /// </summary>
    public bool Insecure { get; init; }

    /// <summary>The only Envoy node id served (envoy-manager's <c>-envoy-node-name</c>); another gets PERMISSION_DENIED.</summary>
    public string EnvoyNodeName { get; init; } = "kube";

    /// <summary>The only Envoy node cluster served, when set; null serves any cluster.</summary>
    public string? EnvoyClusterName { get; init; }

    /// <summary>Console log format: "text" (one line per event) or "json" (one JSON object per line).</summary>
    public string LogFormat { get; init; } = "text";

    /// <summary>The minimum level logged by this program's own categories.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary>
    /// Refuses what must not start: TLS files given in part, files that do not load, or a non-loopback xDS listener
    /// without TLS (every tenant's ranges, hostnames and endpoints to anyone who reaches it) unless
    /// <see cref="Insecure"/>. Throws <see cref="ArgumentException"/> with the flag to fix.
    /// </summary>
    public void Validate()
    {
        var given = new[] { TlsCertFile, TlsKeyFile, ClientCaFile }.Count(f => f is not null);
        if (given is > 0 and < 3)
        {
            throw new ArgumentException("--tls-cert-file, --tls-key-file and --client-ca-file go together: TLS without a client CA "
                + "would serve every client that completes a handshake");
        }
        if (XdsTls is { } files && XdsTlsCredentials.Check(files) is { } problem)
        {
            throw new ArgumentException($"--tls-cert-file/--tls-key-file/--client-ca-file cannot be loaded: {problem}");
        }
        if (XdsTls is null && !Insecure && !IPAddress.IsLoopback(ListenAddress.Address))
        {
            throw new ArgumentException($"--listen-address {ListenAddress} is not loopback and xDS has no TLS: set --tls-cert-file, "
                + "--tls-key-file and --client-ca-file, or --insecure to serve every tenant's configuration to anyone who reaches the port");
        }
    }

    /// <summary>The TLS files of the xDS listener, or null for h2c.</summary>
    public XdsTlsFiles? XdsTls => TlsCertFile is { } cert && TlsKeyFile is { } key && ClientCaFile is { } ca ? new XdsTlsFiles(cert, key, ca) : null;
}
