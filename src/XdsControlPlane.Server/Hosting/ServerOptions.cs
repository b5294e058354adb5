using System.Net;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// The host's settings. The one command line (<see cref="ControlPlaneCommandLine"/>) produces them, together with the
/// Kubernetes source's (<c>KubernetesSourceOptions</c>) when that source is chosen.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>"folder" (the file-based source) or "kubernetes".</summary>
    public string Source { get; init; } = "folder";

    public string Input { get; init; } = "envoy-config/examples/aws-seed";

    /// <summary>Where Envoy connects (gRPC, HTTP/2). envoy-manager's <c>-listen-address</c>.</summary>
    public IPEndPoint ListenAddress { get; init; } = new(IPAddress.Loopback, 8001);

    /// <summary>The debug endpoint (HTTP JSON); loopback by default: it shows every tenant's policy.</summary>
    public IPEndPoint DebugAddress { get; init; } = new(IPAddress.Loopback, 8080);

    /// <summary>Metrics and health checks (<c>/metrics</c>, <c>/healthz</c>, <c>/readyz</c>), apart from the policy views.</summary>
    public IPEndPoint MetricsAddress { get; init; } = new(IPAddress.Loopback, 8090);

    /// <summary>
    /// How long a narrowing's drain may wait so that narrowings are drained together (see
    /// <c>ConfigPipeline.RevocationDelay</c>); <c>0</c> renames at once. New connections are refused at once either way.
    /// </summary>
    public TimeSpan RevocationDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The Envoy node id the snapshot is served to (envoy-manager's <c>-envoy-node-name</c>).</summary>
    public string EnvoyNodeName { get; init; } = "kube";

    /// <summary>The Envoy cluster (<c>--service-cluster</c>) the server accepts; null = any.</summary>
    public string? EnvoyClusterName { get; init; }

    /// <summary>The xDS listener's certificate (PEM); with <see cref="TlsKeyFile"/>.</summary>
    public string? TlsCertFile { get; init; }

    public string? TlsKeyFile { get; init; }

    /// <summary>CA bundle (PEM) that Envoy's client certificate must chain to.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>Serve xDS in cleartext (h2c) on a non-loopback address, knowingly.</summary>
    public bool Insecure { get; init; }

    /// <summary>Console log format: "text" (one line per event) or "json" (one JSON object per line).</summary>
    public string LogFormat { get; init; } = "text";

    /// <summary>The minimum level logged by this program's own categories.</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Information;
}
