using System.Collections.Immutable;
using System.Globalization;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Every claim of one kind (SNI hostnames or node ports) in the seed, kept between compilations so that a change
/// costs O(the changed tenants' claims), not a pass over every port of every tenant. Node ports are claims across
/// tenants because the pipeline may serve a failed tenant's last good model beside new input: only the compiler
/// sees what is really served together.
/// </summary>
internal sealed class Claims
{
    private readonly ImmutableDictionary<string, ImmutableSortedSet<PortClaim>> _byHost;

    private Claims(ClaimKind kind, ImmutableDictionary<string, ImmutableSortedSet<PortClaim>> byHost, ImmutableSortedSet<string> conflicted)
    {
        Kind = kind;
        _byHost = byHost;
        Conflicted = conflicted;
    }

    public static Claims Empty(ClaimKind kind) => new(kind, ImmutableDictionary.Create<string, ImmutableSortedSet<PortClaim>>(StringComparer.Ordinal),
        ImmutableSortedSet.Create<string>(StringComparer.Ordinal));

    public ClaimKind Kind { get; }

    /// <summary>Hostnames (node ports) claimed by more than one Service port.</summary>
    public ImmutableSortedSet<string> Conflicted { get; }

    /// <summary>
    /// A tenant's claims of <paramref name="kind"/>: its SNI hostnames, or its node ports, as text, except those the
    /// seed's own listeners use (<see cref="TenantCompiler.IsReservedPort"/>: never served, so they hold nothing).
    /// </summary>
    public static IEnumerable<(string Host, PortClaim Claim)> Of(ClaimKind kind, Tenant tenant, SeedSettings seed)
    {
        foreach (var service in tenant.Services)
        {
            foreach (var port in service.Ports)
            {
                var claimed = kind switch
                {
                    ClaimKind.SniHostname => port.SniHostname,
                    _ => port.ViaNodePort && !TenantCompiler.IsReservedPort(port.NodePort, seed) ? port.NodePort.ToString(CultureInfo.InvariantCulture) : null,
                };
                if (claimed is not null)
                {
                    yield return (claimed, new PortClaim(service.CreatedAt, EnvoyNames.ServicePortKey(service.Namespace, service.Name, port.Name), tenant.Id, service.Key));
                }
            }
        }
    }

    /// <summary>The claims with <paramref name="removed"/> tenants' taken back and <paramref name="added"/> tenants' made; <paramref name="touched"/> gets every hostname affected.</summary>
    public Claims With(IEnumerable<Tenant> removed, IEnumerable<Tenant> added, SeedSettings seed, ISet<string> touched)
    {
        var byHost = _byHost.ToBuilder();
        var conflicted = Conflicted.ToBuilder();
        var hosts = new HashSet<string>(StringComparer.Ordinal);
        void Update(string host, Func<ImmutableSortedSet<PortClaim>, ImmutableSortedSet<PortClaim>> change)
        {
            touched.Add(host);
            hosts.Add(host);
            var claims = change(byHost.TryGetValue(host, out var existing) ? existing : ImmutableSortedSet<PortClaim>.Empty);
            if (claims.Count == 0)
            {
                byHost.Remove(host);
            }
            else
            {
                byHost[host] = claims;
            }
            if (claims.Count > 1)
            {
                conflicted.Add(host);
            }
            else
            {
                conflicted.Remove(host);
            }
        }
        foreach (var tenant in removed)
        {
            foreach (var (host, claim) in Of(Kind, tenant, seed))
            {
                Update(host, c => c.Remove(claim));
            }
        }
        foreach (var tenant in added)
        {
            foreach (var (host, claim) in Of(Kind, tenant, seed))
            {
                Update(host, c => c.Add(claim));
            }
        }
        var next = new Claims(Kind, byHost.ToImmutable(), conflicted.ToImmutable());
        if (Volatile.Read(ref _diagnostics) is { } known)
        {
            // The conflicts' diagnostics carried over, those of the hostnames touched made again: a seed with many
            // conflicts does not format every one of them again for each change.
            var diagnostics = known.ToBuilder();
            foreach (var host in hosts)
            {
                if (next.Conflicted.Contains(host))
                {
                    diagnostics[host] = next.DiagnosticsOf(host);
                }
                else
                {
                    diagnostics.Remove(host);
                }
            }
            next._diagnostics = diagnostics.ToImmutable();
        }
        return next;
    }

    /// <summary>
    /// The claims of a whole seed (a first compile), grouped by hostname: each tenant's claims are read in parallel
    /// and each hostname's set is made once, instead of once per claim. The grouping answers <see cref="Lost"/> at
    /// once; the immutable claims carried to the next compilation are made from it later (<see cref="Grouped.ToClaims"/>),
    /// beside other work, off the compile's serial path.
    /// </summary>
    public static Grouped Group(ClaimKind kind, IReadOnlyList<Tenant> tenants, SeedSettings seed)
    {
        var perTenant = new (string Host, PortClaim Claim)[tenants.Count][];
        Parallel.For(0, tenants.Count, i => perTenant[i] = [.. Of(kind, tenants[i], seed)]);
        var byHost = new Dictionary<string, List<PortClaim>>(StringComparer.Ordinal);
        var conflicted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claims in perTenant)
        {
            foreach (var (host, claim) in claims)
            {
                if (!byHost.TryGetValue(host, out var holders))
                {
                    byHost[host] = holders = new List<PortClaim>(1);
                }
                else
                {
                    conflicted.Add(host);
                }
                holders.Add(claim);
            }
        }
        return new Grouped(kind, seed, byHost, conflicted);
    }

    /// <summary>A whole seed's claims by hostname, as <see cref="Group"/> found them.</summary>
    public sealed class Grouped
    {
        private readonly ClaimKind _kind;
        private readonly SeedSettings _seed;
        private readonly Dictionary<string, List<PortClaim>> _byHost;
        private readonly HashSet<string> _conflicted;

        internal Grouped(ClaimKind kind, SeedSettings seed, Dictionary<string, List<PortClaim>> byHost, HashSet<string> conflicted)
        {
            _kind = kind;
            _seed = seed;
            _byHost = byHost;
            _conflicted = conflicted;
        }

        /// <summary>As <see cref="Claims.Lost"/>.</summary>
        public IReadOnlySet<string> Lost(Tenant tenant) =>
            LostBy(_kind, _seed, tenant, _conflicted.Count, _conflicted.Contains, host => _byHost[host].Min().Key);

        public Claims ToClaims()
        {
            var sets = ImmutableDictionary.CreateBuilder<string, ImmutableSortedSet<PortClaim>>(StringComparer.Ordinal);
            foreach (var (host, claims) in _byHost)
            {
                sets[host] = ImmutableSortedSet.CreateRange(claims);
            }
            return new Claims(_kind, sets.ToImmutable(), ImmutableSortedSet.CreateRange(StringComparer.Ordinal, _conflicted));
        }
    }

    /// <summary>The tenants holding a claim on <paramref name="host"/>.</summary>
    public IEnumerable<string> Holders(string host) =>
        _byHost.TryGetValue(host, out var claims) ? claims.Select(c => c.Tenant) : [];

    /// <summary>The "ns/svc-port" keys of <paramref name="tenant"/> whose hostname (node port) an older Service holds.</summary>
    public IReadOnlySet<string> Lost(Tenant tenant, SeedSettings seed) =>
        LostBy(Kind, seed, tenant, Conflicted.Count, Conflicted.Contains, host => _byHost[host].Min.Key);

    private static IReadOnlySet<string> LostBy(ClaimKind kind, SeedSettings seed, Tenant tenant, int conflictedCount, Func<string, bool> isConflicted,
        Func<string, string> ownerKey)
    {
        if (conflictedCount == 0)
        {
            return ImmutableHashSet<string>.Empty; // the usual seed: nobody can have lost a hostname
        }
        HashSet<string>? lost = null;
        foreach (var (host, claim) in Of(kind, tenant, seed))
        {
            if (isConflicted(host) && ownerKey(host) != claim.Key)
            {
                (lost ??= new HashSet<string>(StringComparer.Ordinal)).Add(claim.Key);
            }
        }
        return lost ?? (IReadOnlySet<string>)ImmutableHashSet<string>.Empty;
    }

    /// <summary>What a tenant lost, as text: its artifacts are reused only while this stays the same.</summary>
    public static string ConflictKey(IReadOnlySet<string> lostSni, IReadOnlySet<string> lostNodePorts) =>
        lostSni.Count == 0 && lostNodePorts.Count == 0 ? ""
            : $"{string.Join(",", lostSni.Order(StringComparer.Ordinal))}|{string.Join(",", lostNodePorts.Order(StringComparer.Ordinal))}";

    // Per conflicted hostname, its diagnostics: made on first use, then carried to the claims derived by With().
    private ImmutableDictionary<string, ImmutableArray<Diagnostic>>? _diagnostics;

    /// <summary>One error per losing claim, naming the Service and the owner: computed from the conflicted hostnames only,
    /// each hostname's once in the life of its claims (see <see cref="With"/>).</summary>
    public IEnumerable<Diagnostic> Diagnostics()
    {
        var known = Volatile.Read(ref _diagnostics);
        if (known is null)
        {
            // Racing threads make equal values; either may be kept.
            known = ImmutableDictionary.CreateRange(StringComparer.Ordinal, Conflicted.Select(host => KeyValuePair.Create(host, DiagnosticsOf(host))));
            Volatile.Write(ref _diagnostics, known);
        }
        return Conflicted.SelectMany(host => known[host]);
    }

    private ImmutableArray<Diagnostic> DiagnosticsOf(string host)
    {
        var claims = _byHost[host];
        var owner = claims.Min;
        return [.. claims.Skip(1).Select(claim => Kind == ClaimKind.SniHostname
            ? new Diagnostic(DiagnosticSeverity.Error, "SniHostnameConflict", $"Service/{claim.Service}",
                "metadata.annotations[nodeport-proxy.k8s.io/port-mapping]",
                $"hostname '{host}' is already used by the older Service {owner.Service} (tenant {owner.Tenant}); " +
                "this port is not exposed by SNI until the hostname is changed", claim.Tenant)
            : new Diagnostic(DiagnosticSeverity.Error, "NodePortConflict", $"Service/{claim.Service}",
                $"spec.ports[name='{claim.Key[(claim.Service.Length + 1)..]}'].nodePort",
                $"node port {host} is already used by the older Service {owner.Service} (tenant {owner.Tenant}, {owner.Key}); " +
                "this port gets no NodePort listener until one of them changes its node port", claim.Tenant))];
    }
}
