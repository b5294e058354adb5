using System.Collections.Immutable;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>The result of one compilation: the snapshot, per-tenant reports and artifacts (reused by the next compilation).</summary>
public sealed class CompiledSeed
{
    private readonly IReadOnlySet<string> _servingLastGood;

    internal CompiledSeed(SeedModel model, Snapshot snapshot, ImmutableSortedDictionary<string, TenantArtifacts> tenants,
        Claims claims, Claims nodePortClaims, IReadOnlySet<string> servingLastGood, int recompiled, TenantArtifacts[] ordered)
    {
        Model = model;
        Snapshot = snapshot;
        Tenants = tenants;
        Claims = claims;
        NodePortClaims = nodePortClaims;
        Ordered = ordered;
        _servingLastGood = servingLastGood;
        RecompiledTenants = recompiled;
    }

    public SeedModel Model { get; }

    public Snapshot Snapshot { get; }

    internal ImmutableSortedDictionary<string, TenantArtifacts> Tenants { get; }

    /// <summary>The artifacts in tenant-id order: enumerating the sorted map costs ~1 µs a tenant, this array nothing.</summary>
    internal TenantArtifacts[] Ordered { get; }

    /// <summary>Tenants whose narrowing is served but whose drain (chain rename) is still owed.</summary>
    public ImmutableHashSet<string> OwedRevocations { get; init; } = ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    /// <summary>The SNI listener's chains, as a running digest carried to the next compilation.</summary>
    internal PartsTally SniTally { get; init; }

    /// <summary>Every SNI hostname claim, carried to the next compilation.</summary>
    internal Claims Claims { get; }

    /// <summary>Every node port claim, likewise.</summary>
    internal Claims NodePortClaims { get; }

    /// <summary>Conflicts found across tenants, then each tenant's own findings (computed with its artifacts).</summary>
    /// <remarks>O(findings): the tenants with findings are kept apart, patched by each change like the resource sets.</remarks>
    public IEnumerable<Diagnostic> Diagnostics =>
        Claims.Diagnostics().Concat(NodePortClaims.Diagnostics()).Concat(WithFindings.Values.SelectMany(t => t.Diagnostics));

    /// <summary>The tenants whose artifacts carry diagnostics, by id.</summary>
    internal ImmutableSortedDictionary<string, TenantArtifacts> WithFindings { get; init; } =
        ImmutableSortedDictionary.Create<string, TenantArtifacts>(StringComparer.Ordinal);

    // Set by an incremental compile: the compilation it was derived from (weakly, so compilations do not chain in
    // memory) and the ids of the tenants added, removed or recompiled since.
    private WeakReference<CompiledSeed>? _base;
    private IReadOnlyList<string> _changedSinceBase = [];

    internal void DerivedFrom(CompiledSeed previous, IReadOnlyList<string> changed)
    {
        _base = new WeakReference<CompiledSeed>(previous);
        _changedSinceBase = changed;
    }

    /// <summary>
    /// The ids of the tenants added, removed or recompiled since <paramref name="held"/>, when this compilation was
    /// derived from exactly that one (the pipeline's usual case); false when unknown (then compare every tenant).
    /// Every other tenant's report is the same instance in both.
    /// </summary>
    public bool TryGetChangedSince(CompiledSeed held, out IReadOnlyList<string> changed)
    {
        changed = _changedSinceBase;
        return _base is not null && _base.TryGetTarget(out var target) && ReferenceEquals(target, held);
    }

    /// <summary>Per-tenant reports, built when the tenant was compiled (O(1) each here).</summary>
    public IEnumerable<TenantReport> Reports => Ordered.Select(t => ReportOf(t));

    public TenantReport? GetReport(string tenantId) => Tenants.TryGetValue(tenantId, out var t) ? ReportOf(t) : null;

    private TenantReport ReportOf(TenantArtifacts artifacts) =>
        _servingLastGood.Contains(artifacts.Tenant.Id) ? artifacts.Report with { ServingLastGood = true } : artifacts.Report;

    /// <summary>How many tenants were compiled anew (the rest were reused): the cost of the change.</summary>
    public int RecompiledTenants { get; }
}
