using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Sources.Translation;

public sealed record TranslationOptions
{
    public string ExposeAnnotationKey { get; init; } = Annotations.DefaultExposeKey;

    /// <summary>Which Seed object to read when several exist; null = the only one.</summary>
    public string? SeedName { get; init; }

    /// <summary>Limits Services and EndpointSlices to one namespace (envoy-manager's <c>-namespace</c>); null = all.</summary>
    public string? Namespace { get; init; }

    public int? SniPort { get; init; }

    public int? TunnelingPort { get; init; }

    /// <summary>The nodeport-proxy's LoadBalancer Service, read (when present) for its <c>externalTrafficPolicy</c>.</summary>
    public string NodePortProxyServiceName { get; init; } = DefaultNodePortProxyServiceName;

    public string NodePortProxyNamespace { get; init; } = DefaultNodePortProxyNamespace;

    /// <summary>KKP's names: the operator deploys the seed's nodeport-proxy as Service <c>nodeport-proxy</c> in <c>kubermatic</c>.</summary>
    public const string DefaultNodePortProxyServiceName = "nodeport-proxy";

    public const string DefaultNodePortProxyNamespace = "kubermatic";
}
