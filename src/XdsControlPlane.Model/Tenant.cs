using XdsControlPlane.Cidr;

namespace XdsControlPlane.Model;

/// <summary>KKP's <c>Cluster.spec.exposeStrategy</c>.</summary>
public enum ExposeStrategy
{
    NodePort,
    Tunneling,
    LoadBalancer,
}

/// <summary>How a tenant's allowlist is applied.</summary>
public enum AllowlistMode
{
    Enforce,

    /// <summary>Shadow rules only: would-be denials are counted, nothing is blocked.</summary>
    DryRun,
}

/// <summary>One ready upstream address of an exposed port.</summary>
/// <param name="Zone">The EndpointSlice endpoint's <c>zone</c> (the node's <c>topology.kubernetes.io/zone</c>); empty when the slice gives none.</param>
/// <param name="NodeName">The endpoint's <c>nodeName</c>; empty when the slice gives none.</param>
public sealed record UpstreamEndpoint(string Address, int Port, string Zone = "", string NodeName = "");

/// <summary>A port of a Service that the nodeport-proxy exposes, and how.</summary>
public sealed record ExposedPort
{
    public required string Name { get; init; }

    /// <summary>The Service port (used in the tunneling authority).</summary>
    public required int Port { get; init; }

    /// <summary>The node port; 0 when the Service has none.</summary>
    public int NodePort { get; init; }

    public bool ViaNodePort { get; init; }

    /// <summary>The SNI hostname from <c>nodeport-proxy.k8s.io/port-mapping</c>; null when not exposed by SNI.</summary>
    public string? SniHostname { get; init; }

    public bool ViaTunneling { get; init; }

    /// <summary>Ready endpoints for the port's target, sorted by zone, then address and port (so a zone's endpoints are adjacent).</summary>
    public ValueList<UpstreamEndpoint> Endpoints { get; init; } = ValueList<UpstreamEndpoint>.Empty;
}

/// <summary>A Service annotated for the nodeport-proxy.</summary>
public sealed record ExposedService
{
    public required string Namespace { get; init; }

    public required string Name { get; init; }

    /// <summary>When the Service was created: on an SNI hostname conflict the older one wins.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    public ValueList<ExposedPort> Ports { get; init; } = ValueList<ExposedPort>.Empty;

    public string Key => $"{Namespace}/{Name}";
}

/// <summary>
/// A tenant ("user cluster"): every Service in its namespace <c>cluster-&lt;id&gt;</c> that the proxy exposes,
/// and the allowlist that applies to all of them.
/// </summary>
public sealed record Tenant
{
    public required string Id { get; init; }

    public ExposeStrategy Strategy { get; init; } = ExposeStrategy.Tunneling;

    /// <summary><c>Cluster.spec.cloud.providerName</c>, informational.</summary>
    public string? CloudProviderName { get; init; }

    /// <summary><c>Cluster.spec.apiServerAllowedIPRanges.cidrBlocks</c>, parsed, as written. Empty = unrestricted.</summary>
    public ValueList<CidrRange> AllowedRanges { get; init; } = ValueList<CidrRange>.Empty;

    public AllowlistMode AllowlistMode { get; init; } = AllowlistMode.Enforce;

    public ValueList<ExposedService> Services { get; init; } = ValueList<ExposedService>.Empty;

    public string Namespace => $"cluster-{Id}";
}

/// <summary>The whole input of one compilation: the seed and all its tenants, sorted by id.</summary>
public sealed record SeedModel(SeedSettings Seed, ValueList<Tenant> Tenants);
