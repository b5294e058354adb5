using System.Globalization;
using k8s;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// Settings of the Kubernetes source, named after envoy-manager's flags where one exists
/// (<c>-listen-address</c>, <c>-envoy-node-name</c>, <c>-envoy-sni-port</c>, <c>-envoy-tunneling-port</c>,
/// <c>-namespace</c>, <c>-expose-annotation-key</c>) so a KKP operator recognises them.
/// </summary>
public sealed record KubernetesSourceOptions
{
    /// <summary>Where the xDS server listens: the Envoy sidecar reaches it on loopback (envoy-manager: <c>:8001</c>).</summary>
    public string ListenAddress { get; init; } = "127.0.0.1:8001";

    /// <summary>The Envoy node id the snapshot is served to (envoy-manager's <c>-envoy-node-name</c>).</summary>
    public string EnvoyNodeName { get; init; } = "kube";

    public int EnvoySniPort { get; init; } = 6443;

    public int EnvoyTunnelingPort { get; init; } = 8088;

    /// <summary>Watch Services and EndpointSlices in this namespace only; null = all namespaces.</summary>
    public string? Namespace { get; init; }

    public string ExposeAnnotationKey { get; init; } = Annotations.DefaultExposeKey;

    /// <summary>Path of a kubeconfig; null = in-cluster configuration when running in a pod, else the default kubeconfig.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary>The kubeconfig context to use; null = its current context.</summary>
    public string? KubeContext { get; init; }

    /// <summary>KKP keeps the Seed object in this namespace of the seed cluster.</summary>
    public string SeedNamespace { get; init; } = "kubermatic";

    /// <summary>The Seed this proxy serves when several exist; null = the only one.</summary>
    public string? SeedName { get; init; }

    /// <summary>The nodeport-proxy's LoadBalancer Service, read for its <c>externalTrafficPolicy</c> (KKP: <c>nodeport-proxy</c>).</summary>
    public string NodePortProxyService { get; init; } = TranslationOptions.DefaultNodePortProxyServiceName;

    /// <summary>Its namespace (KKP: <c>kubermatic</c>, where the operator deploys the seed's nodeport-proxy).</summary>
    public string NodePortProxyNamespace { get; init; } = TranslationOptions.DefaultNodePortProxyNamespace;

    /// <summary>Wait this long after the last change before publishing an inventory (a burst becomes one inventory).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Never hold a change back longer than this, however long the burst lasts.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The server-side watch timeout (<c>timeoutSeconds</c>); each watch asks for a random value in [this, 2 × this).</summary>
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A watch that delivers no event and no bookmark for this long is presumed hung and restarted.</summary>
    public TimeSpan WatchdogTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The first delay after a failed list or watch; doubled per consecutive failure, with jitter.</summary>
    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Objects per list page (<c>limit</c>); large seeds are listed in pages, as client-go does.</summary>
    public int ListPageSize { get; init; } = 500;

    /// <summary>Events about cluster-scoped objects (KKP Clusters) are created in this namespace.</summary>
    public string EventNamespace { get; init; } = "default";

    /// <summary>The same event (cluster, reason, message) is re-counted at most this often while it persists.</summary>
    public TimeSpan EventRepeatInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The options of the shared translation that match these settings.</summary>
    public TranslationOptions ToTranslationOptions() => new()
    {
        ExposeAnnotationKey = ExposeAnnotationKey,
        SeedName = SeedName,
        Namespace = Namespace,
        SniPort = EnvoySniPort,
        TunnelingPort = EnvoyTunnelingPort,
        NodePortProxyServiceName = NodePortProxyService,
        NodePortProxyNamespace = NodePortProxyNamespace,
    };

    /// <summary>
    /// The client configuration: the kubeconfig named in the options, else in-cluster (service account token)
    /// when running in a pod, else the default kubeconfig (<c>$KUBECONFIG</c> or <c>~/.kube/config</c>).
    /// </summary>
    public KubernetesClientConfiguration CreateClientConfiguration()
    {
        if (Kubeconfig is not null)
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig, KubeContext);
        }
        return KubernetesClientConfiguration.IsInCluster()
            ? KubernetesClientConfiguration.InClusterConfig()
            : KubernetesClientConfiguration.BuildConfigFromConfigFile(currentContext: KubeContext);
    }

    /// <summary>
    /// Reads envoy-manager style flags (<c>-name=value</c>, <c>--name=value</c> or <c>--name value</c>) over these defaults.
    /// Unknown flags are refused, so a typo does not silently keep a default.
    /// </summary>
    public static KubernetesSourceOptions Parse(IEnumerable<string> args, KubernetesSourceOptions? defaults = null)
    {
        var options = defaults ?? new KubernetesSourceOptions();
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var arg = list[i];
            if (!arg.StartsWith('-'))
            {
                throw new FormatException($"unexpected argument '{arg}'");
            }
            var name = arg.TrimStart('-');
            string value;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (i + 1 < list.Count)
            {
                value = list[++i];
            }
            else
            {
                throw new FormatException($"flag -{name} needs a value");
            }
            options = name switch
            {
                "listen-address" => options with { ListenAddress = value },
                "envoy-node-name" => options with { EnvoyNodeName = value },
                "envoy-sni-port" => options with { EnvoySniPort = Port(name, value) },
                "envoy-tunneling-port" => options with { EnvoyTunnelingPort = Port(name, value) },
                "namespace" => options with { Namespace = value.Length == 0 ? null : value },
                "expose-annotation-key" => options with { ExposeAnnotationKey = value },
                "kubeconfig" => options with { Kubeconfig = value.Length == 0 ? null : value },
                "context" => options with { KubeContext = value.Length == 0 ? null : value },
                "seed-namespace" => options with { SeedNamespace = value },
                "seed-name" => options with { SeedName = value.Length == 0 ? null : value },
                "event-namespace" => options with { EventNamespace = value },
                "nodeport-proxy-service" => options with { NodePortProxyService = value },
                "nodeport-proxy-namespace" => options with { NodePortProxyNamespace = value },
                "watch-timeout" => options with { WatchTimeout = Duration(name, value) },
                "watchdog-timeout" => options with { WatchdogTimeout = Duration(name, value) },
                "debounce" => options with { Debounce = Duration(name, value) },
                "max-delay" => options with { MaxDelay = Duration(name, value) },
                _ => throw new FormatException($"unknown flag -{name}"),
            };
        }
        options.Validate();
        return options;
    }

    /// <summary>Refuses settings that cannot work, naming the setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ExposeAnnotationKey))
        {
            throw new FormatException("expose-annotation-key must not be empty");
        }
        if (Debounce < TimeSpan.Zero || MaxDelay < Debounce)
        {
            throw new FormatException("debounce must be >= 0 and max-delay >= debounce");
        }
        if (WatchTimeout < TimeSpan.FromSeconds(1) || WatchdogTimeout <= TimeSpan.Zero)
        {
            throw new FormatException("watch-timeout must be at least 1s and watchdog-timeout positive");
        }
        if (BackoffInitial <= TimeSpan.Zero || BackoffMax < BackoffInitial)
        {
            throw new FormatException("backoff must be positive and its maximum >= its initial value");
        }
        if (string.IsNullOrWhiteSpace(NodePortProxyService) || string.IsNullOrWhiteSpace(NodePortProxyNamespace))
        {
            throw new FormatException("nodeport-proxy-service and nodeport-proxy-namespace must not be empty");
        }
        if (ListPageSize < 1)
        {
            throw new FormatException("list page size must be positive");
        }
    }

    private static int Port(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new FormatException($"-{name}: '{value}' is not a port number");

    private static TimeSpan Duration(string name, string value) =>
        TryParseDuration(value, out var duration) ? duration : throw new FormatException($"-{name}: '{value}' is not a duration (e.g. 90s, 5m, 250ms)");

    /// <summary>
    /// Go-style durations as envoy-manager takes them ("90s", "5m", "250ms", "1h"), or plain seconds. False for anything
    /// else, a negative duration, or one too long for a <see cref="TimeSpan"/>. The host reads its own durations with it too.
    /// </summary>
    public static bool TryParseDuration(string value, out TimeSpan duration)
    {
        (string Suffix, double Scale)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (suffix, scale) in units)
        {
            if (value.EndsWith(suffix, StringComparison.Ordinal) &&
                double.TryParse(value[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            {
                // TimeSpan throws beyond its range (and for infinity): that is a bad value, not a crash.
                var fits = n * scale < TimeSpan.MaxValue.TotalMilliseconds;
                duration = fits ? TimeSpan.FromMilliseconds(n * scale) : default;
                return fits;
            }
        }
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0
            && seconds < TimeSpan.MaxValue.TotalSeconds)
        {
            duration = TimeSpan.FromSeconds(seconds);
            return true;
        }
        duration = default;
        return false;
    }
}
