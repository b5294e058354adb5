using System.Net;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Xds.Transport;

namespace XdsControlPlane.Server.Hosting;

/// <summary>Command line of the executable. Kubernetes-source flags are read by <c>KubernetesSourceOptions.Parse</c>.</summary>
public sealed record ServerOptions
{
    /// <summary>"folder" (default: the embedded, file-based source) or "kubernetes".</summary>
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

    /// <summary>
    /// The flags this host does not own, as given, for the Kubernetes source's parser (envoy-manager's
    /// flags). <c>--listen-address</c> is read here and also passed on, since envoy-manager has it too.
    /// </summary>
    public IReadOnlyList<string> SourceArgs { get; init; } = [];

    public static ServerOptions Parse(string[] args)
    {
        var options = new ServerOptions();
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var start = i;
            var (name, value) = Split(args, ref i);
            options = name switch
            {
                "source" => value is "folder" or "kubernetes" ? options with { Source = value }
                    : throw new ArgumentException($"--source must be 'folder' or 'kubernetes', not '{value}'"),
                "input" => options with { Input = value },
                "listen-address" => options with { ListenAddress = Endpoint(name, value) },
                "debug-address" => options with { DebugAddress = Endpoint(name, value, anyPort: false) },
                "metrics-address" => options with { MetricsAddress = Endpoint(name, value, anyPort: false) },
                "revocation-delay" => options with { RevocationDelay = Delay(name, value) },
                "tls-cert-file" => options with { TlsCertFile = value },
                "tls-key-file" => options with { TlsKeyFile = value },
                "client-ca-file" => options with { ClientCaFile = value },
                "insecure" => options with { Insecure = bool.TryParse(value, out var insecure) ? insecure : throw new ArgumentException($"--insecure takes true or false, not '{value}'") },
                "envoy-node-name" => options with { EnvoyNodeName = value.Length > 0 ? value : throw new ArgumentException("--envoy-node-name must not be empty") },
                "envoy-cluster-name" => options with { EnvoyClusterName = value.Length > 0 ? value : null },
                _ => options,
            };
            if (name is not ("source" or "input" or "debug-address" or "metrics-address" or "revocation-delay" or "tls-cert-file" or "tls-key-file"
                or "client-ca-file" or "insecure" or "envoy-cluster-name"))
            {
                rest.AddRange(args[start..(i + 1)]);
            }
        }
        if (options.Source == "folder" && rest.FirstOrDefault(a => a.StartsWith('-') && !IsPassedOn(a.TrimStart('-'))) is { } unknown)
        {
            throw new ArgumentException($"unknown flag '{unknown}' (Kubernetes flags need --source kubernetes)");
        }
        options = options with { SourceArgs = rest };
        options.Validate();
        return options;

        // Read here and passed on: envoy-manager has these flags too.
        static bool IsPassedOn(string flag) =>
            flag.StartsWith("listen-address", StringComparison.Ordinal) || flag.StartsWith("envoy-node-name", StringComparison.Ordinal);
    }

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

    private static (string Name, string Value) Split(string[] args, ref int i)
    {
        var arg = args[i].TrimStart('-');
        var eq = arg.IndexOf('=', StringComparison.Ordinal);
        if (eq >= 0)
        {
            return (arg[..eq], arg[(eq + 1)..]);
        }
        if (arg == "insecure")
        {
            // A switch: never takes the next argument as its value.
            return (arg, "true");
        }
        return i + 1 < args.Length && !args[i + 1].StartsWith('-') ? (arg, args[++i]) : (arg, "true");
    }

    /// <summary>A duration as envoy-manager's flags take them (the Kubernetes source's reader), from 0 to 1h.</summary>
    private static TimeSpan Delay(string name, string value) =>
        KubernetesSourceOptions.TryParseDuration(value, out var delay) && delay <= TimeSpan.FromHours(1)
            ? delay
            : throw new ArgumentException($"--{name} '{value}' is not a duration between 0 and 1h (for example 5s, 500ms, 0)");

    /// <param name="anyPort">
    /// Whether port 0 (the OS chooses) is accepted. Not for the debug listener: its port is what the startup line
    /// prints and operators go by (tests that want a free port set <see cref="DebugAddress"/> directly).
    /// </param>
    private static IPEndPoint Endpoint(string name, string value, bool anyPort = true)
    {
        var text = value.StartsWith(':') ? "0.0.0.0" + value : value;
        return IPEndPoint.TryParse(text, out var endpoint) && (endpoint.Port > 0 || (anyPort && endpoint.Port == 0))
            ? endpoint
            : throw new ArgumentException($"--{name} '{value}' is not an address:port{(anyPort ? "" : " with a port above 0")} (for example 127.0.0.1:8001)");
    }
}
