using Envoy.Config.Listener.V3;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>Everything one tenant contributes to a snapshot, compiled once and reused while the tenant is unchanged.</summary>
internal sealed record TenantArtifacts(
    Tenant Tenant,
    SeedSettings Seed,
    string ConflictKey,
    AllowlistDecision Decision,
    IReadOnlyList<EnvoyResource> Clusters,
    IReadOnlyList<EnvoyResource> Endpoints,
    IReadOnlyList<EnvoyResource> NodePortListeners,
    IReadOnlyList<HashedPart<FilterChain>> SniChains,
    IReadOnlyList<EnvoyResource> TunnelingRoutes)
{
    /// <summary>
    /// The tunneling scopes (one per namespace with CONNECT ports) that map an authority to <see cref="TunnelingRoutes"/>:
    /// served by SRDS, so tenants coming and going never change the tunneling listener.
    /// </summary>
    public IReadOnlyList<EnvoyResource> TunnelingScopes { get; init; } = [];

    /// <summary>The SNI hostnames the tenant's chains match, in port order.</summary>
    public IReadOnlyList<string> SniHostnames { get; init; } = [];

    /// <summary>The node ports the tenant's listeners bind, in port order.</summary>
    public IReadOnlyList<int> NodePorts { get; init; } = [];

    /// <summary>The CONNECT authorities the tenant's virtual hosts answer, in port order.</summary>
    public IReadOnlyList<string> TunnelingAuthorities { get; init; } = [];

    private TenantReport? _report;

    /// <summary>Built on first use (the debug endpoint), not on every compile: formatting every range of 10,000 tenants is not free.</summary>
    public TenantReport Report => _report ??= TenantCompiler.Report(this);

    /// <summary>ECDS delivery: the tenant's RBAC filter configs (one per path it uses), named as its filters.</summary>
    public IReadOnlyList<EnvoyResource> ExtensionConfigs { get; init; } = [];

    /// <summary>The addresses the served RBAC admits, to tell narrowing from widening at the next compile.</summary>
    public Admission Admission { get; init; } = null!;

    /// <summary>ECDS delivery: the revocation generation in the filter names (see <see cref="Revocation"/>); empty inline.</summary>
    public string RevocationGeneration { get; init; } = "";

    /// <summary>ECDS delivery: a narrowing was served under the old generation and its drain (the rename) is still owed.</summary>
    public bool RevocationOwed { get; init; }

    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = [];
}
