using System.Net;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Hosting;

/// <summary>Command line of the executable. Kubernetes-source flags are read by <c>KubernetesSourceOptions.Parse</c>.</summary>
public sealed record ServerOptions
{
    /// <summary>"folder" (default: the embedded, file-based source) or "kubernetes".</summary>
    public string Source { get; init; } = "folder";

    public string Input { get; init; } = "envoy-config/examples/aws-seed";

    /// <summary>Where Envoy connects (gRPC, HTTP/2 cleartext). envoy-manager's <c>-listen-address</c>.</summary>
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
                _ => options,
            };
            if (name is not ("source" or "input" or "debug-address" or "metrics-address" or "revocation-delay"))
            {
                rest.AddRange(args[start..(i + 1)]);
            }
        }
        if (options.Source == "folder" && rest.FirstOrDefault(a => a.StartsWith('-') && !a.TrimStart('-').StartsWith("listen-address", StringComparison.Ordinal)) is { } unknown)
        {
            throw new ArgumentException($"unknown flag '{unknown}' (Kubernetes flags need --source kubernetes)");
        }
        return options with { SourceArgs = rest };
    }

    private static (string Name, string Value) Split(string[] args, ref int i)
    {
        var arg = args[i].TrimStart('-');
        var eq = arg.IndexOf('=', StringComparison.Ordinal);
        if (eq >= 0)
        {
            return (arg[..eq], arg[(eq + 1)..]);
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
