using System.Collections.Immutable;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>What an operator (and the debug endpoint) needs to know about one tenant's compiled policy.</summary>
public sealed record TenantReport(
    string Id,
    ExposeStrategy Strategy,
    Enforcement Enforcement,
    RangeForm Form,
    string Reason,
    IReadOnlyList<string> EffectiveRanges,
    IReadOnlyList<string> SniHostnames,
    IReadOnlyList<int> NodePorts,
    IReadOnlyList<string> TunnelingAuthorities,
    bool ServingLastGood)
{
    /// <summary>The effective set, for verdict queries ("may A reach this tenant?"); empty when unrestricted.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public CidrSet Ranges { get; init; } = CidrSet.Empty;
}

/// <summary>The result of one compilation: the snapshot, per-tenant reports and artifacts (reused by the next compilation).</summary>
public sealed class CompiledSeed
{
    private readonly IReadOnlyList<Diagnostic> _seedDiagnostics;
    private readonly IReadOnlySet<string> _servingLastGood;

    internal CompiledSeed(SeedModel model, Snapshot snapshot, ImmutableSortedDictionary<string, TenantArtifacts> tenants,
        IReadOnlyList<Diagnostic> seedDiagnostics, IReadOnlySet<string> servingLastGood, int recompiled)
    {
        Model = model;
        Snapshot = snapshot;
        Tenants = tenants;
        _seedDiagnostics = seedDiagnostics;
        _servingLastGood = servingLastGood;
        RecompiledTenants = recompiled;
    }

    public SeedModel Model { get; }

    public Snapshot Snapshot { get; }

    public ImmutableSortedDictionary<string, TenantArtifacts> Tenants { get; }

    /// <summary>Conflicts found across tenants, then each tenant's own findings (computed with its artifacts).</summary>
    public IEnumerable<Diagnostic> Diagnostics => _seedDiagnostics.Concat(Tenants.Values.SelectMany(t => t.Diagnostics));

    /// <summary>Per-tenant reports, built when the tenant was compiled (O(1) each here).</summary>
    public IEnumerable<TenantReport> Reports => Tenants.Values.Select(t => ReportOf(t));

    public TenantReport? GetReport(string tenantId) => Tenants.TryGetValue(tenantId, out var t) ? ReportOf(t) : null;

    private TenantReport ReportOf(TenantArtifacts artifacts) =>
        _servingLastGood.Contains(artifacts.Tenant.Id) ? artifacts.Report with { ServingLastGood = true } : artifacts.Report;

    /// <summary>How many tenants were compiled anew (the rest were reused): the cost of the change.</summary>
    public int RecompiledTenants { get; }
}

/// <summary>
/// Model → snapshot. Pure and deterministic; given the previous result it recompiles only the tenants
/// whose input changed and patches the previous resource sets, so one tenant's change costs O(that tenant)
/// plus a pass over references for the two shared listeners.
/// </summary>
public static class SeedCompiler
{
    public static CompiledSeed Compile(SeedModel model, CompiledSeed? previous = null, IReadOnlySet<string>? servingLastGood = null)
    {
        var seed = model.Seed;
        var diagnostics = new List<Diagnostic>();
        var lost = ResolveSniConflicts(model.Tenants, diagnostics);
        var reuse = previous is not null && previous.Model.Seed.Equals(seed);

        var tenants = ImmutableSortedDictionary.CreateBuilder<string, TenantArtifacts>(StringComparer.Ordinal);
        var changed = new List<(TenantArtifacts? Old, TenantArtifacts? New)>();
        var recompiled = 0;
        foreach (var tenant in model.Tenants)
        {
            lost.TryGetValue(tenant.Id, out var lostPorts);
            var conflictKey = lostPorts is null ? "" : string.Join(",", lostPorts.Order(StringComparer.Ordinal));
            TenantArtifacts? old = null;
            previous?.Tenants.TryGetValue(tenant.Id, out old);
            TenantArtifacts artifacts;
            if (reuse && old is not null && old.ConflictKey == conflictKey && old.Tenant.Equals(tenant))
            {
                artifacts = old;
            }
            else
            {
                artifacts = TenantCompiler.Compile(tenant, seed, lostPorts ?? (IReadOnlySet<string>)ImmutableHashSet<string>.Empty, conflictKey, old);
                recompiled++;
                changed.Add((old, artifacts));
            }
            tenants.Add(tenant.Id, artifacts);
        }
        if (previous is not null)
        {
            foreach (var (id, old) in previous.Tenants)
            {
                if (!tenants.ContainsKey(id))
                {
                    changed.Add((old, null));
                }
            }
        }
        var compiled = tenants.ToImmutable();

        ResourceSet clusters, endpoints, listeners, extensions;
        if (reuse)
        {
            extensions = Patch(previous!.Snapshot.Get(TypeUrls.ExtensionConfig), changed, a => a.ExtensionConfigs);
            clusters = Patch(previous!.Snapshot.Get(TypeUrls.Cluster), changed, a => a.Clusters);
            endpoints = Patch(previous.Snapshot.Get(TypeUrls.Endpoint), changed, a => a.Endpoints);
            listeners = Patch(previous.Snapshot.Get(TypeUrls.Listener), changed, a => a.NodePortListeners);
        }
        else
        {
            extensions = new ResourceSet(TypeUrls.ExtensionConfig, compiled.Values.SelectMany(a => a.ExtensionConfigs));
            clusters = new ResourceSet(TypeUrls.Cluster,
                compiled.Values.SelectMany(a => a.Clusters).Prepend(new EnvoyResource(EnvoyNames.StatsCluster, SharedListeners.StatsCluster(seed))));
            endpoints = new ResourceSet(TypeUrls.Endpoint, compiled.Values.SelectMany(a => a.Endpoints));
            listeners = new ResourceSet(TypeUrls.Listener,
                compiled.Values.SelectMany(a => a.NodePortListeners).Prepend(new EnvoyResource(EnvoyNames.StatsListener, SharedListeners.StatsListener(seed))));
        }

        // The shared listeners: present only when some tenant uses them, as envoy-manager does.
        var chains = compiled.Values.SelectMany(a => a.SniChains).ToList();
        var vhosts = compiled.Values.SelectMany(a => a.VirtualHosts).ToList();
        var shared = new List<EnvoyResource>();
        var sharedRemoved = new List<string>();
        if (chains.Count > 0)
        {
            shared.Add(SharedListeners.SniListener(seed, chains));
        }
        else
        {
            sharedRemoved.Add(EnvoyNames.SniListener);
        }
        ResourceSet routes;
        if (vhosts.Count > 0)
        {
            shared.Add(SharedListeners.TunnelingListener(seed));
            routes = new ResourceSet(TypeUrls.Route, [SharedListeners.TunnelingRoutes(vhosts)]);
        }
        else
        {
            sharedRemoved.Add(EnvoyNames.TunnelingListener);
            routes = ResourceSet.Empty(TypeUrls.Route);
        }
        listeners = listeners.With(shared, sharedRemoved);

        var snapshot = new Snapshot([clusters, endpoints, listeners, routes, extensions]);
        return new CompiledSeed(model, snapshot, compiled, diagnostics, servingLastGood ?? ImmutableHashSet<string>.Empty, recompiled);
    }

    private static ResourceSet Patch(ResourceSet set, List<(TenantArtifacts? Old, TenantArtifacts? New)> changed, Func<TenantArtifacts, IReadOnlyList<EnvoyResource>> select)
    {
        var upserts = new List<EnvoyResource>();
        var removals = new List<string>();
        foreach (var (old, @new) in changed)
        {
            var now = @new is null ? [] : select(@new);
            upserts.AddRange(now);
            if (old is not null)
            {
                var keep = now.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
                removals.AddRange(select(old).Select(r => r.Name).Where(n => !keep.Contains(n)));
            }
        }
        return set.With(upserts, removals);
    }

    /// <summary>Two Services claiming one SNI hostname: the older keeps it (as envoy-manager decides), the other is told.</summary>
    private static Dictionary<string, HashSet<string>> ResolveSniConflicts(ValueList<Tenant> tenants, List<Diagnostic> diagnostics)
    {
        var owners = new Dictionary<string, (DateTimeOffset Created, string Key, string Tenant, string Service)>(StringComparer.Ordinal);
        var claims = new List<(string Host, DateTimeOffset Created, string Key, string Tenant, string Service)>();
        foreach (var tenant in tenants)
        {
            foreach (var service in tenant.Services)
            {
                foreach (var port in service.Ports)
                {
                    if (port.SniHostname is null)
                    {
                        continue;
                    }
                    var key = EnvoyNames.ServicePortKey(service.Namespace, service.Name, port.Name);
                    claims.Add((port.SniHostname, service.CreatedAt, key, tenant.Id, service.Key));
                    if (!owners.TryGetValue(port.SniHostname, out var owner)
                        || (service.CreatedAt, key).CompareTo((owner.Created, owner.Key)) < 0)
                    {
                        owners[port.SniHostname] = (service.CreatedAt, key, tenant.Id, service.Key);
                    }
                }
            }
        }
        var lost = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var claim in claims)
        {
            var owner = owners[claim.Host];
            if (owner.Key == claim.Key)
            {
                continue;
            }
            if (!lost.TryGetValue(claim.Tenant, out var set))
            {
                lost[claim.Tenant] = set = new HashSet<string>(StringComparer.Ordinal);
            }
            set.Add(claim.Key);
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "SniHostnameConflict", $"Service/{claim.Service}",
                $"metadata.annotations[{"nodeport-proxy.k8s.io/port-mapping"}]",
                $"hostname '{claim.Host}' is already used by the older Service {owner.Service} (tenant {owner.Tenant}); " +
                "this port is not exposed by SNI until the hostname is changed", claim.Tenant));
        }
        return lost;
    }

}
