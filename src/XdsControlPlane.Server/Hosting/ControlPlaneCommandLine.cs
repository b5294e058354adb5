using System.CommandLine;
using System.CommandLine.Help;
using System.Globalization;
using System.Net;
using System.Reflection;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// The one command line of the executable, parsed by System.CommandLine: the host's flags and the Kubernetes source's
/// (envoy-manager's where one exists). KKP passes Go-style flags (<c>-listen-address=127.0.0.1:8001</c>, one dash for a
/// long name), which System.CommandLine would take for bundled one-letter options; <see cref="Normalize"/> turns a known
/// long flag with one dash into its two-dash form first, so every flag is accepted as <c>-flag=value</c>,
/// <c>-flag value</c>, <c>--flag value</c> and <c>--flag=value</c>.
/// </summary>
public static class ControlPlaneCommandLine
{
    public const string ProgramName = "xds-control-plane";

    private static readonly ServerOptions ServerDefaults = new();
    private static readonly KubernetesSourceOptions KubernetesDefaults = new();

    // The host's flags.
    private static readonly Option<string> Source = new("--source")
    {
        Description = "Where the tenants come from: 'folder' (--input) or 'kubernetes' (the seed's API server). Default: kubernetes "
            + "when a Kubernetes flag is given or when running in a pod (KUBERNETES_SERVICE_HOST set), else folder.",
        HelpName = "folder|kubernetes",
    };

    private static readonly Option<string> Input = new("--input")
    {
        Description = $"Folder of manifests (Seed, Clusters, Services, EndpointSlices) for the folder source; re-read on change. Default: {ServerDefaults.Input}.",
        HelpName = "dir",
    };

    private static readonly Option<IPEndPoint?> ListenAddress = Endpoint("--listen-address", anyPort: true,
        $"Where Envoy connects for xDS (gRPC over HTTP/2), as envoy-manager's -listen-address. Default: {ServerDefaults.ListenAddress}.");

    private static readonly Option<IPEndPoint?> DebugAddress = Endpoint("--debug-address", anyPort: false,
        $"The debug JSON views (/debug/...), which show every tenant's policy: keep on loopback. Default: {ServerDefaults.DebugAddress}.");

    private static readonly Option<IPEndPoint?> MetricsAddress = Endpoint("--metrics-address", anyPort: false,
        $"Metrics and health checks (/metrics, /healthz, /readyz), for scrapers and kubelet probes. Default: {ServerDefaults.MetricsAddress}.");

    private static readonly Option<TimeSpan> RevocationDelay = Duration("--revocation-delay", TimeSpan.FromHours(1),
        $"How long a narrowed allowlist's live connections may wait so that narrowings are drained together; 0 drains at once. "
        + $"New connections are refused at once either way. 0 to 1h. Default: {GoDuration.Format(ServerDefaults.RevocationDelay)}.");

    private static readonly Option<string> EnvoyNodeName = new("--envoy-node-name")
    {
        Description = $"The only Envoy node id (Envoy's --service-node) served, as envoy-manager's; another gets PERMISSION_DENIED. Default: {ServerDefaults.EnvoyNodeName}.",
        HelpName = "id",
    };

    private static readonly Option<string> EnvoyClusterName = new("--envoy-cluster-name")
    {
        Description = "The only Envoy node cluster (Envoy's --service-cluster) served. Default: any.",
        HelpName = "name",
    };

    private static readonly Option<string> TlsCertFile = new("--tls-cert-file")
    {
        Description = "Certificate (PEM) of the xDS listener; with --tls-key-file and --client-ca-file it serves mutual TLS (re-read on change). Default: none (cleartext).",
        HelpName = "file",
    };

    private static readonly Option<string> TlsKeyFile = new("--tls-key-file")
    {
        Description = "Private key (PEM) of --tls-cert-file. Default: none.",
        HelpName = "file",
    };

    private static readonly Option<string> ClientCaFile = new("--client-ca-file")
    {
        Description = "CA bundle (PEM) that Envoy's client certificate must chain to (mutual TLS). Default: none.",
        HelpName = "file",
    };

    private static readonly Option<bool> Insecure = new("--insecure")
    {
        Description = "Allow cleartext xDS on a non-loopback --listen-address (anyone who reaches it is served every tenant's configuration). Default: false.",
    };

    private static readonly Option<string> LogFormat = new("--log-format")
    {
        Description = $"Console log format: 'text' (one line per event) or 'json' (one JSON object per line, for log pipelines). Default: {ServerDefaults.LogFormat}.",
        HelpName = "text|json",
    };

    private static readonly Option<string> LogLevelOption = new("--log-level")
    {
        Description = "Least severe level logged: trace, debug, information, warning, error. Stack traces of expected failures "
            + "(a failed watch, a client gone) are logged at debug only. Default: information.",
        HelpName = "level",
    };

    // The Kubernetes source's flags: any of them chooses --source kubernetes.
    private static readonly Option<int> EnvoySniPort = Port("--envoy-sni-port",
        $"Envoy's port for TLS with SNI (tunneling clusters), as envoy-manager's. Default: {KubernetesDefaults.EnvoySniPort}.");

    private static readonly Option<int> EnvoyTunnelingPort = Port("--envoy-tunneling-port",
        $"Envoy's port for HTTP/2 CONNECT (the user-cluster agents), as envoy-manager's. Default: {KubernetesDefaults.EnvoyTunnelingPort}.");

    private static readonly Option<string> Namespace = new("--namespace")
    {
        Description = "Watch Services and EndpointSlices in this namespace only, as envoy-manager's. Default: all namespaces.",
        HelpName = "name",
    };

    private static readonly Option<string> ExposeAnnotationKey = new("--expose-annotation-key")
    {
        Description = $"The annotation that marks a Service as exposed by the proxy, as envoy-manager's. Default: {KubernetesDefaults.ExposeAnnotationKey}.",
        HelpName = "key",
    };

    private static readonly Option<string> Kubeconfig = new("--kubeconfig")
    {
        Description = "Kubeconfig file. Default: as kubectl finds it: the first existing file of $KUBECONFIG, ~/.kube/config, "
            + "else in-cluster (the pod's service account).",
        HelpName = "file",
    };

    private static readonly Option<string> Context = new("--context")
    {
        Description = "The kubeconfig context to use. Default: its current context.",
        HelpName = "name",
    };

    private static readonly Option<string> SeedNamespace = new("--seed-namespace")
    {
        Description = $"The namespace of KKP's Seed object. Default: {KubernetesDefaults.SeedNamespace}.",
        HelpName = "name",
    };

    private static readonly Option<string> SeedName = new("--seed-name")
    {
        Description = "The Seed this proxy serves when --seed-namespace holds several. Default: the only one.",
        HelpName = "name",
    };

    private static readonly Option<string> NodePortProxyService = new("--nodeport-proxy-service")
    {
        Description = "The nodeport-proxy LoadBalancer Service, read for its externalTrafficPolicy (Cluster loses the client address). "
            + $"Default: {KubernetesDefaults.NodePortProxyService}.",
        HelpName = "name",
    };

    private static readonly Option<string> NodePortProxyNamespace = new("--nodeport-proxy-namespace")
    {
        Description = $"The namespace of --nodeport-proxy-service. Default: {KubernetesDefaults.NodePortProxyNamespace}.",
        HelpName = "name",
    };

    private static readonly Option<string> EventNamespace = new("--event-namespace")
    {
        Description = $"Where Kubernetes Events about (cluster-scoped) KKP Clusters are written. Default: {KubernetesDefaults.EventNamespace}.",
        HelpName = "name",
    };

    private static readonly Option<TimeSpan> WatchTimeout = Duration("--watch-timeout", null,
        $"Server-side timeout of each watch (each asks for a random value in [this, 2 x this)); at least 1s. "
        + $"Default: {GoDuration.Format(KubernetesDefaults.WatchTimeout)}.");

    private static readonly Option<TimeSpan> WatchdogTimeout = Duration("--watchdog-timeout", null,
        $"A watch that delivers no event and no bookmark for this long is presumed hung and restarted. "
        + $"Default: {GoDuration.Format(KubernetesDefaults.WatchdogTimeout)}.");

    private static readonly Option<TimeSpan> Debounce = Duration("--debounce", null,
        $"Changes within this long of the last update wait until this long after the last change (a burst becomes one update); "
        + "a change after a quiet spell this long is published at once. "
        + $"Default: {GoDuration.Format(KubernetesDefaults.Debounce)}.");

    private static readonly Option<TimeSpan> MaxDelay = Duration("--max-delay", null,
        $"Never hold a change back longer than this, however long the burst; at least --debounce. "
        + $"Default: {GoDuration.Format(KubernetesDefaults.MaxDelay)}.");

    private static readonly Option<bool> Version = new("--version")
    {
        Description = "Print the version and exit.",
    };

    private static readonly Option[] KubernetesOnly =
    [
        EnvoySniPort, EnvoyTunnelingPort, Namespace, ExposeAnnotationKey, Kubeconfig, Context, SeedNamespace, SeedName,
        NodePortProxyService, NodePortProxyNamespace, EventNamespace, WatchTimeout, WatchdogTimeout, Debounce, MaxDelay,
    ];

    private static readonly Option[] HostOptions =
    [
        Source, Input, ListenAddress, DebugAddress, MetricsAddress, RevocationDelay, EnvoyNodeName, EnvoyClusterName,
        TlsCertFile, TlsKeyFile, ClientCaFile, Insecure, LogFormat, LogLevelOption,
    ];

    private static readonly RootCommand Root = CreateRoot();

    /// <summary>The long names, without dashes, that a single-dash flag may use (<c>-listen-address=…</c>).</summary>
    private static readonly HashSet<string> LongNames = Root.Options
        .SelectMany(o => o.Aliases.Append(o.Name))
        .Where(a => a.StartsWith("--", StringComparison.Ordinal))
        .Select(a => a[2..])
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>The version this build says it is (the assembly's informational version, set from git describe by `make image`).</summary>
    public static string VersionText =>
        typeof(ControlPlaneCommandLine).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Parses <paramref name="args"/>; never throws for a bad command line.</summary>
    /// <param name="environment">Reads an environment variable (<c>KUBERNETES_SERVICE_HOST</c>); null = the process's.</param>
    public static CommandLineResult Parse(IReadOnlyList<string> args, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var result = Root.Parse(Normalize(args), new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (result.Action is HelpAction)
        {
            return new CommandLineResult { Output = Help() };
        }
        if (result.UnmatchedTokens.Count > 0)
        {
            var token = result.UnmatchedTokens[0];
            return Fail(token.StartsWith('-') ? $"unknown flag '{token}' (see --help)" : $"unexpected argument '{token}' (flags only; see --help)");
        }
        if (result.Errors.Count > 0)
        {
            return Fail(result.Errors[0].Message);
        }
        if (result.GetValue(Version))
        {
            return new CommandLineResult { Output = $"{ProgramName} {VersionText}{Environment.NewLine}" };
        }
        try
        {
            return Bind(result, environment);
        }
        catch (FormatException e)
        {
            return Fail(e.Message);
        }
    }

    /// <summary>The help text: every flag, what it does and its default.</summary>
    public static string Help()
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = output });
        return output.ToString();
    }

    /// <summary>
    /// Turns a known long flag written with one dash (Go's flag package, as KKP passes envoy-manager's flags) into its
    /// two-dash form; anything else is left as it is, so an unknown flag is reported as the user wrote it.
    /// A value following a flag is never rewritten (<c>--namespace -x</c> keeps <c>-x</c>).
    /// </summary>
    public static string[] Normalize(IReadOnlyList<string> args)
    {
        var normalized = new List<string>(args.Count);
        var afterFlagNeedingValue = false;
        foreach (var original in args)
        {
            var arg = original;
            if (!afterFlagNeedingValue && arg.Length > 2 && arg[0] == '-' && arg[1] != '-')
            {
                var name = arg[1..];
                var eq = name.IndexOf('=', StringComparison.Ordinal);
                if (LongNames.Contains(eq < 0 ? name : name[..eq]))
                {
                    arg = "-" + arg;
                }
            }
            if (!afterFlagNeedingValue && arg.StartsWith("--", StringComparison.Ordinal) && arg.EndsWith('=') && LongNames.Contains(arg[2..^1]))
            {
                // "-namespace=" sets the empty value (envoy-manager's "all namespaces"); System.CommandLine would drop it.
                normalized.Add(arg[..^1]);
                normalized.Add("");
                continue;
            }
            normalized.Add(arg);
            afterFlagNeedingValue = !afterFlagNeedingValue && NeedsValue(arg);
        }
        return [.. normalized];
    }

    private static bool NeedsValue(string arg) =>
        arg.StartsWith("--", StringComparison.Ordinal) && !arg.Contains('=', StringComparison.Ordinal)
        && Root.Options.FirstOrDefault(o => o.Name == arg || o.Aliases.Contains(arg)) is { } option
        && option.ValueType != typeof(bool);

    private static RootCommand CreateRoot()
    {
        var root = new RootCommand(
            "An Envoy xDS control plane for KKP's nodeport-proxy: compiles each tenant's source-IP allowlist into Envoy RBAC. "
            + "Every flag is also accepted as -flag=value (one dash), as KKP passes envoy-manager's. Durations: 90s, 250ms, 1h30m, 0.");
        // Only the flags below: no response files, no [directives], and our own --version (the assembly's, not the test host's).
        root.Directives.Clear();
        foreach (var option in root.Options.Where(o => o is VersionOption).ToList())
        {
            root.Options.Remove(option);
        }
        foreach (var option in HostOptions.Concat(KubernetesOnly).Append(Version))
        {
            root.Options.Add(option);
        }
        root.TreatUnmatchedTokensAsErrors = true;
        return root;
    }

    private static CommandLineResult Bind(ParseResult result, Func<string, string?> environment)
    {
        var given = KubernetesOnly.Where(o => result.GetResult(o) is not null).Select(o => o.Name).ToList();
        var source = result.GetValue(Source);
        if (source is not (null or "folder" or "kubernetes"))
        {
            throw new FormatException($"--source must be 'folder' or 'kubernetes', not '{source}'");
        }
        var inputGiven = result.GetResult(Input) is not null;
        if (source == "folder" && given.Count > 0)
        {
            throw new FormatException($"{given[0]} is a Kubernetes flag: it has no effect with --source folder");
        }
        if (source == "kubernetes" && inputGiven)
        {
            throw new FormatException("--input is the folder source's: it has no effect with --source kubernetes");
        }
        if (source is null && inputGiven && given.Count > 0)
        {
            throw new FormatException($"--input (folder source) and {given[0]} (Kubernetes source) exclude each other; say which with --source");
        }
        source ??= given.Count > 0 ? "kubernetes"
            : inputGiven ? "folder"
            : !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")) ? "kubernetes"
            : "folder";

        var logFormat = result.GetValue(LogFormat) ?? ServerDefaults.LogFormat;
        if (logFormat is not ("text" or "json"))
        {
            throw new FormatException($"--log-format must be 'text' or 'json', not '{logFormat}'");
        }
        var logLevel = ServerDefaults.LogLevel;
        if (result.GetValue(LogLevelOption) is { } levelText
            && (!Enum.TryParse(levelText, ignoreCase: true, out logLevel) || logLevel is LogLevel.None || int.TryParse(levelText, out _)))
        {
            throw new FormatException($"--log-level must be one of trace, debug, information, warning, error, critical; not '{levelText}'");
        }
        var server = new ServerOptions
        {
            Source = source,
            Input = result.GetValue(Input) ?? ServerDefaults.Input,
            ListenAddress = result.GetValue(ListenAddress) ?? ServerDefaults.ListenAddress,
            DebugAddress = result.GetValue(DebugAddress) ?? ServerDefaults.DebugAddress,
            MetricsAddress = result.GetValue(MetricsAddress) ?? ServerDefaults.MetricsAddress,
            RevocationDelay = Value(result, RevocationDelay, ServerDefaults.RevocationDelay),
            EnvoyNodeName = NonEmpty(result, EnvoyNodeName) ?? ServerDefaults.EnvoyNodeName,
            EnvoyClusterName = NonEmpty(result, EnvoyClusterName),
            TlsCertFile = NonEmpty(result, TlsCertFile),
            TlsKeyFile = NonEmpty(result, TlsKeyFile),
            ClientCaFile = NonEmpty(result, ClientCaFile),
            Insecure = result.GetValue(Insecure),
            LogFormat = logFormat,
            LogLevel = logLevel,
        };
        try
        {
            server.Validate();
        }
        catch (ArgumentException e)
        {
            throw new FormatException(e.Message, e);
        }
        if (source == "folder")
        {
            return new CommandLineResult { Server = server };
        }
        var kubernetes = new KubernetesSourceOptions
        {
            EnvoySniPort = Value(result, EnvoySniPort, KubernetesDefaults.EnvoySniPort),
            EnvoyTunnelingPort = Value(result, EnvoyTunnelingPort, KubernetesDefaults.EnvoyTunnelingPort),
            Namespace = result.GetResult(Namespace) is null ? KubernetesDefaults.Namespace : NonEmpty(result, Namespace),
            ExposeAnnotationKey = result.GetValue(ExposeAnnotationKey) ?? KubernetesDefaults.ExposeAnnotationKey,
            Kubeconfig = NonEmpty(result, Kubeconfig),
            KubeContext = NonEmpty(result, Context),
            SeedNamespace = result.GetValue(SeedNamespace) ?? KubernetesDefaults.SeedNamespace,
            SeedName = NonEmpty(result, SeedName),
            NodePortProxyService = result.GetValue(NodePortProxyService) ?? KubernetesDefaults.NodePortProxyService,
            NodePortProxyNamespace = result.GetValue(NodePortProxyNamespace) ?? KubernetesDefaults.NodePortProxyNamespace,
            EventNamespace = result.GetValue(EventNamespace) ?? KubernetesDefaults.EventNamespace,
            WatchTimeout = Value(result, WatchTimeout, KubernetesDefaults.WatchTimeout),
            WatchdogTimeout = Value(result, WatchdogTimeout, KubernetesDefaults.WatchdogTimeout),
            Debounce = Value(result, Debounce, KubernetesDefaults.Debounce),
            MaxDelay = Value(result, MaxDelay, KubernetesDefaults.MaxDelay),
        };
        kubernetes.Validate();
        return new CommandLineResult { Server = server, Kubernetes = kubernetes };
    }

    private static T Value<T>(ParseResult result, Option<T> option, T fallback) =>
        result.GetResult(option) is null ? fallback : result.GetValue(option)!;

    /// <summary>An empty value means "not set", as envoy-manager's <c>-namespace=""</c> does.</summary>
    private static string? NonEmpty(ParseResult result, Option<string> option) =>
        result.GetValue(option) is { Length: > 0 } value ? value : null;

    private static CommandLineResult Fail(string message) => new() { Error = message, ExitCode = 2 };

    /// <param name="anyPort">
    /// Whether port 0 (the OS chooses) is accepted. Not for the debug and metrics listeners: their ports are what
    /// operators and probes go by (tests that want a free port set the address directly).
    /// </param>
    private static Option<IPEndPoint?> Endpoint(string name, bool anyPort, string description) => new(name)
    {
        Description = description,
        HelpName = "host:port",
        CustomParser = argument =>
        {
            var value = argument.Tokens.Count > 0 ? argument.Tokens[0].Value : "";
            var text = value.StartsWith(':') ? "0.0.0.0" + value : value;
            if (IPEndPoint.TryParse(text, out var endpoint) && text.Contains(':', StringComparison.Ordinal)
                && (endpoint.Port > 0 || (anyPort && endpoint.Port == 0)))
            {
                return endpoint;
            }
            argument.AddError($"{name} '{value}' is not an address:port{(anyPort ? "" : " with a port above 0")} (for example 127.0.0.1:8001 or :8001)");
            return null;
        },
    };

    private static Option<TimeSpan> Duration(string name, TimeSpan? max, string description) => new(name)
    {
        Description = description,
        HelpName = "duration",
        CustomParser = argument =>
        {
            var value = argument.Tokens.Count > 0 ? argument.Tokens[0].Value : "";
            if (GoDuration.TryParse(value, out var duration) && (max is null || duration <= max))
            {
                return duration;
            }
            argument.AddError(max is { } limit
                ? $"{name} '{value}' is not a duration between 0 and {GoDuration.Format(limit)} (for example 5s, 500ms, 1h30m, 0)"
                : $"{name} '{value}' is not a duration (for example 90s, 250ms, 1h30m, 0)");
            return default;
        },
    };

    private static Option<int> Port(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "port",
        CustomParser = argument =>
        {
            var value = argument.Tokens.Count > 0 ? argument.Tokens[0].Value : "";
            if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536)
            {
                return port;
            }
            argument.AddError($"{name} '{value}' is not a port number (1 to 65535)");
            return default;
        },
    };
}
