using XdsControlPlane.Cidr;

namespace XdsControlPlane.Model;

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
