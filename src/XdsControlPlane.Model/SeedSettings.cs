using XdsControlPlane.Cidr;

namespace XdsControlPlane.Model;

public sealed record SeedSettings
{
    public string Name { get; init; } = "kubermatic";

    public CloudProvider Provider { get; init; } = CloudProvider.Unspecified;

    /// <summary>Where <see cref="Provider"/> came from: the Seed's annotation, its datacenters, or nowhere (for operators).</summary>
    public string ProviderSource { get; init; } = "nothing: no Seed annotation and no datacenters";

    /// <summary>Operator override of <see cref="Provider"/>'s default; null means "as the provider does".</summary>
    public bool? SourceIpPreservedOverride { get; init; }

    /// <summary>The nodeport-proxy's LoadBalancer Service (<c>namespace/name</c>) when it was among the objects read, else null.</summary>
    public string? NodePortProxyService { get; init; }

    /// <summary>That Service's <c>spec.externalTrafficPolicy</c> as read (Kubernetes' default when absent: <c>Cluster</c>).</summary>
    public string? ExternalTrafficPolicy { get; init; }

    /// <summary>
    /// True when the nodeport-proxy Service was read and routes through any node (<c>externalTrafficPolicy: Cluster</c>):
    /// kube-proxy then SNATs the client address to a node's, whatever the load balancer kept.
    /// </summary>
    public bool ServiceLosesClientAddress => NodePortProxyService is not null && ExternalTrafficPolicy != "Local";

    /// <summary>Whether connections reach Envoy with the client's own source address.</summary>
    public bool SourceIpPreserved => SourceIpPreservedOverride ?? (ProviderPreservesSourceIp(Provider) && !ServiceLosesClientAddress);

    /// <summary>Why <see cref="SourceIpPreserved"/> has its value, naming the annotation or objects it rests on (for operators).</summary>
    public string SourceIpPreservedSource => SourceIpPreservedOverride is { } overridden
        ? $"annotation nodeport-proxy.k8s.io/source-ip-preserved: {(overridden ? "true" : "false")} on Seed/{Name}"
        : !ProviderPreservesSourceIp(Provider)
            ? $"provider {ProviderName(Provider)} ({ProviderSource}): its load balancer is not known to keep client addresses"
            : ServiceLosesClientAddress
                ? $"Service/{NodePortProxyService} has externalTrafficPolicy: {ExternalTrafficPolicy ?? "Cluster (default)"}: nodes SNAT client addresses"
                : NodePortProxyService is null
                    ? $"provider {ProviderName(Provider)} ({ProviderSource}) keeps client addresses; the nodeport-proxy Service was not read (externalTrafficPolicy not checked)"
                    : $"provider {ProviderName(Provider)} ({ProviderSource}) and Service/{NodePortProxyService} externalTrafficPolicy: Local keep client addresses";

    /// <summary>KKP's spelling of a provider (<c>aws</c>, <c>gcp</c>, ...), "unknown" when unspecified.</summary>
    public static string ProviderName(CloudProvider provider) => provider switch
    {
        CloudProvider.Unspecified => "unknown",
        CloudProvider.Vcd => "vmwareclouddirector",
        _ => provider.ToString().ToLowerInvariant(),
    };

    /// <summary>Recover the client address from a PROXY protocol header sent by the load balancer.</summary>
    public bool ProxyProtocol { get; init; }

    /// <summary>
    /// The load balancer's own addresses: the only peers whose PROXY header is believed. Required with
    /// <see cref="ProxyProtocol"/>, or anyone reaching a node port directly could claim any source.
    /// </summary>
    public ValueList<CidrRange> ProxyProtocolTrustedRanges { get; init; } = ValueList<CidrRange>.Empty;

    /// <summary><c>Seed.spec.defaultAPIServerAllowedIPRanges</c>: added to every tenant that has a list.</summary>
    public ValueList<CidrRange> DefaultAllowedRanges { get; init; } = ValueList<CidrRange>.Empty;

    public UnenforceablePolicy Unenforceable { get; init; } = UnenforceablePolicy.ReportOpen;

    public ConfigSourceStyle ConfigSource { get; init; } = ConfigSourceStyle.Ads;

    /// <summary>The bootstrap's static cluster that reaches this control plane (used with <see cref="ConfigSourceStyle.Grpc"/>).</summary>
    public string XdsClusterName { get; init; } = "xds_cluster";

    /// <summary>Seed annotation <c>nodeport-proxy.k8s.io/rbac-delivery</c>: <c>ecds</c> (default) or <c>inline</c>.</summary>
    public RbacDelivery RbacDelivery { get; init; } = RbacDelivery.Ecds;

    /// <summary>
    /// The longest a connection of a tenant whose RBAC restricts who may connect may live; tenants without a
    /// list (or in dry run, or served open) have no cap at all. On CONNECT routes (<c>max_stream_duration</c>, both
    /// delivery modes) it bounds how long a tunnel opened before a narrowing survives it (route changes reach new
    /// streams only). On <c>tcp_proxy</c> (SNI chains, NodePort listeners; ECDS only) it bounds the one case the
    /// generation rename misses (a restart across a narrowing whose fresh generation equals the served one).
    /// Seed annotation <c>nodeport-proxy.k8s.io/max-connection-duration</c> (<c>90m</c>, <c>2h</c>; <c>0</c> = none).
    /// See docs/connections.md for the default.
    /// </summary>
    public TimeSpan MaxConnectionDuration { get; init; } = TimeSpan.FromHours(1);

    public int SniPort { get; init; } = 6443;

    public int TunnelingPort { get; init; } = 8088;

    public int StatsPort { get; init; } = 8002;

    public int AdminPort { get; init; } = 9001;

    /// <summary>
    /// AWS NLB, Azure Standard LB and GCP network LB keep the client address when the nodeport-proxy
    /// Service has <c>externalTrafficPolicy: Local</c>; OpenStack Octavia, Hetzner and the rest SNAT or
    /// are unknown, and an unknown is treated as "not preserved" so nothing is silently pretended.
    /// </summary>
    public static bool ProviderPreservesSourceIp(CloudProvider provider) =>
        provider is CloudProvider.Aws or CloudProvider.Azure or CloudProvider.Gcp;
}
