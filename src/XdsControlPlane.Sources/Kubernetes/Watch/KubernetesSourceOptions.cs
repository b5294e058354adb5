using k8s;
using k8s.Exceptions;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// Settings of the Kubernetes source, named after envoy-manager's flags where one exists (<c>-envoy-sni-port</c>,
/// <c>-envoy-tunneling-port</c>, <c>-namespace</c>, <c>-expose-annotation-key</c>) so a KKP operator recognises them.
/// The host's command line (<c>ControlPlaneCommandLine</c>) produces them; the flags both sides share
/// (<c>-listen-address</c>, <c>-envoy-node-name</c>) are the host's (<c>ServerOptions</c>).
/// </summary>
public sealed record KubernetesSourceOptions
{
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

    /// <summary>
    /// A change within this long of the last inventory waits until this long after the last change (a burst becomes one
    /// inventory); a change after a quiet spell of this long is published at once.
    /// </summary>
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
    /// The client configuration, found as kubectl finds it: <c>--kubeconfig</c>, else the first existing file of
    /// <c>$KUBECONFIG</c>, else <c>~/.kube/config</c>, else in-cluster (the pod's service account) when
    /// <c>KUBERNETES_SERVICE_HOST</c> is set. Anything that cannot give a usable client (a missing file, an unknown
    /// context, a user without credentials, no configuration at all) is a <see cref="KubeconfigException"/> whose
    /// message says which file and what is wrong, for one line on stderr instead of a stack trace.
    /// </summary>
    /// <param name="environment">Reads an environment variable (tests pass their own); null = the process's.</param>
    public KubernetesClientConfiguration CreateClientConfiguration(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var (path, origin) = FindKubeconfig(environment);
        if (path is null)
        {
            if (string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")))
            {
                throw new KubeconfigException(
                    "no Kubernetes configuration: pass --kubeconfig, set $KUBECONFIG, create ~/.kube/config, or run in a pod");
            }
            try
            {
                return KubernetesClientConfiguration.InClusterConfig();
            }
            catch (Exception e) when (e is KubeConfigException or IOException or UnauthorizedAccessException)
            {
                throw new KubeconfigException($"in-cluster configuration (KUBERNETES_SERVICE_HOST is set) is unusable: {e.Message}", e);
            }
        }
        KubernetesClientConfiguration config;
        try
        {
            config = KubernetesClientConfiguration.BuildConfigFromConfigFile(path, KubeContext);
        }
        catch (Exception e) when (e is KubeConfigException or IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException
            or ArgumentException or NullReferenceException or InvalidOperationException)
        {
            throw new KubeconfigException($"kubeconfig {path} ({origin}): {Describe(e)}", e);
        }
        // Plain http is `kubectl proxy` (which adds the credentials itself); anything else needs some of its own.
        if (!config.Host.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            && string.IsNullOrEmpty(config.AccessToken) && config.TokenProvider is null && config.ClientCertificateData is null
            && config.ClientCertificateFilePath is null && config.ClientCertificateKeyData is null && config.Username is null)
        {
            throw new KubeconfigException($"kubeconfig {path} ({origin}): the user of context '{KubeContext ?? config.CurrentContext}' has no credentials "
                + "(no token, client certificate, exec plugin or basic auth)");
        }
        return config;
    }

    /// <summary>The kubeconfig file to read and where its name came from, or (null, "") for in-cluster or none.</summary>
    private (string? Path, string Origin) FindKubeconfig(Func<string, string?> environment)
    {
        if (Kubeconfig is not null)
        {
            return File.Exists(Kubeconfig) ? (Kubeconfig, "--kubeconfig")
                : throw new KubeconfigException($"kubeconfig {Kubeconfig} (--kubeconfig) does not exist");
        }
        if (environment("KUBECONFIG") is { Length: > 0 } list)
        {
            var files = list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return files.FirstOrDefault(File.Exists) is { } file ? (file, "$KUBECONFIG")
                : throw new KubeconfigException($"none of the files in $KUBECONFIG exists ({list})");
        }
        var home = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var defaultPath = Path.Combine(home, ".kube", "config");
        return File.Exists(defaultPath) ? (defaultPath, "~/.kube/config") : (null, "");
    }

    /// <summary>The library's message, less its habit of ending in a period or carrying inner messages on.</summary>
    private static string Describe(Exception e) => e switch
    {
        // The client library's reading of an empty or malformed file, which has no message worth showing.
        NullReferenceException or InvalidOperationException => "not a kubeconfig (empty, or without clusters, users and contexts)",
        KubeConfigException { InnerException: { } inner } => $"{e.Message.TrimEnd('.')}: {inner.Message.TrimEnd('.')}",
        _ => e.Message.TrimEnd('.'),
    };

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
}
