using System.Collections.Immutable;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>One Service port asking for an SNI hostname. The oldest Service wins (envoy-manager's rule), then the lowest key.</summary>
public readonly record struct SniClaim(DateTimeOffset Created, string Key, string Tenant, string Service) : IComparable<SniClaim>
{
    public int CompareTo(SniClaim other)
    {
        var byAge = Created.CompareTo(other.Created);
        return byAge != 0 ? byAge : string.CompareOrdinal(Key, other.Key);
    }
}

/// <summary>
/// Every SNI hostname claim in the seed, kept between compilations so that a change costs O(the changed
/// tenants' hostnames), not a pass over every port of every tenant.
/// </summary>
public sealed class SniClaims
{
    private readonly ImmutableDictionary<string, ImmutableSortedSet<SniClaim>> _byHost;

    private SniClaims(ImmutableDictionary<string, ImmutableSortedSet<SniClaim>> byHost, ImmutableSortedSet<string> conflicted)
    {
        _byHost = byHost;
        Conflicted = conflicted;
    }

    public static SniClaims Empty { get; } = new(ImmutableDictionary.Create<string, ImmutableSortedSet<SniClaim>>(StringComparer.Ordinal),
        ImmutableSortedSet.Create<string>(StringComparer.Ordinal));

    /// <summary>Hostnames claimed by more than one Service port.</summary>
    public ImmutableSortedSet<string> Conflicted { get; }

    public static IEnumerable<(string Host, SniClaim Claim)> Of(Tenant tenant)
    {
        foreach (var service in tenant.Services)
        {
            foreach (var port in service.Ports)
            {
                if (port.SniHostname is not null)
                {
                    yield return (port.SniHostname, new SniClaim(service.CreatedAt, EnvoyNames.ServicePortKey(service.Namespace, service.Name, port.Name), tenant.Id, service.Key));
                }
            }
        }
    }

    /// <summary>The claims with <paramref name="removed"/> tenants' taken back and <paramref name="added"/> tenants' made; <paramref name="touched"/> gets every hostname affected.</summary>
    public SniClaims With(IEnumerable<Tenant> removed, IEnumerable<Tenant> added, ISet<string> touched)
    {
        var byHost = _byHost.ToBuilder();
        var conflicted = Conflicted.ToBuilder();
        void Update(string host, Func<ImmutableSortedSet<SniClaim>, ImmutableSortedSet<SniClaim>> change)
        {
            touched.Add(host);
            var claims = change(byHost.TryGetValue(host, out var existing) ? existing : ImmutableSortedSet<SniClaim>.Empty);
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
            foreach (var (host, claim) in Of(tenant))
            {
                Update(host, c => c.Remove(claim));
            }
        }
        foreach (var tenant in added)
        {
            foreach (var (host, claim) in Of(tenant))
            {
                Update(host, c => c.Add(claim));
            }
        }
        return new SniClaims(byHost.ToImmutable(), conflicted.ToImmutable());
    }

    /// <summary>
    /// The claims of a whole seed (a first compile), grouped by hostname: each tenant's claims are read in parallel
    /// and each hostname's set is made once, instead of once per claim. The grouping answers <see cref="Lost"/> at
    /// once; the immutable claims carried to the next compilation are made from it later (<see cref="Grouped.ToClaims"/>),
    /// beside other work, off the compile's serial path.
    /// </summary>
    public static Grouped Group(IReadOnlyList<Tenant> tenants)
    {
        var perTenant = new (string Host, SniClaim Claim)[tenants.Count][];
        Parallel.For(0, tenants.Count, i => perTenant[i] = [.. Of(tenants[i])]);
        var byHost = new Dictionary<string, List<SniClaim>>(StringComparer.Ordinal);
        var conflicted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var claims in perTenant)
        {
            foreach (var (host, claim) in claims)
            {
                if (!byHost.TryGetValue(host, out var holders))
                {
                    byHost[host] = holders = new List<SniClaim>(1);
                }
                else
                {
                    conflicted.Add(host);
                }
                holders.Add(claim);
            }
        }
        return new Grouped(byHost, conflicted);
    }

    /// <summary>A whole seed's claims by hostname, as <see cref="Group"/> found them.</summary>
    public sealed class Grouped
    {
        private readonly Dictionary<string, List<SniClaim>> _byHost;
        private readonly HashSet<string> _conflicted;

        internal Grouped(Dictionary<string, List<SniClaim>> byHost, HashSet<string> conflicted)
        {
            _byHost = byHost;
            _conflicted = conflicted;
        }

        /// <summary>As <see cref="SniClaims.Lost"/>.</summary>
        public IReadOnlySet<string> Lost(Tenant tenant) =>
            LostBy(tenant, _conflicted.Count, _conflicted.Contains, host => _byHost[host].Min().Key);

        public SniClaims ToClaims()
        {
            var sets = ImmutableDictionary.CreateBuilder<string, ImmutableSortedSet<SniClaim>>(StringComparer.Ordinal);
            foreach (var (host, claims) in _byHost)
            {
                sets[host] = ImmutableSortedSet.CreateRange(claims);
            }
            return new SniClaims(sets.ToImmutable(), ImmutableSortedSet.CreateRange(StringComparer.Ordinal, _conflicted));
        }
    }

    /// <summary>The tenants holding a claim on <paramref name="host"/>.</summary>
    public IEnumerable<string> Holders(string host) =>
        _byHost.TryGetValue(host, out var claims) ? claims.Select(c => c.Tenant) : [];

    /// <summary>The "ns/svc-port" keys of <paramref name="tenant"/> whose hostname an older Service holds.</summary>
    public IReadOnlySet<string> Lost(Tenant tenant) =>
        LostBy(tenant, Conflicted.Count, Conflicted.Contains, host => _byHost[host].Min.Key);

    private static IReadOnlySet<string> LostBy(Tenant tenant, int conflictedCount, Func<string, bool> isConflicted, Func<string, string> ownerKey)
    {
        if (conflictedCount == 0)
        {
            return ImmutableHashSet<string>.Empty; // the usual seed: nobody can have lost a hostname
        }
        HashSet<string>? lost = null;
        foreach (var (host, claim) in Of(tenant))
        {
            if (isConflicted(host) && ownerKey(host) != claim.Key)
            {
                (lost ??= new HashSet<string>(StringComparer.Ordinal)).Add(claim.Key);
            }
        }
        return lost ?? (IReadOnlySet<string>)ImmutableHashSet<string>.Empty;
    }

    public static string ConflictKey(IReadOnlySet<string> lost) => lost.Count == 0 ? "" : string.Join(",", lost.Order(StringComparer.Ordinal));

    /// <summary>One error per losing claim, naming the Service and the owner: computed from the conflicted hostnames only.</summary>
    public IEnumerable<Diagnostic> Diagnostics()
    {
        foreach (var host in Conflicted)
        {
            var claims = _byHost[host];
            var owner = claims.Min;
            foreach (var claim in claims.Skip(1))
            {
                yield return new Diagnostic(DiagnosticSeverity.Error, "SniHostnameConflict", $"Service/{claim.Service}",
                    "metadata.annotations[nodeport-proxy.k8s.io/port-mapping]",
                    $"hostname '{host}' is already used by the older Service {owner.Service} (tenant {owner.Tenant}); " +
                    "this port is not exposed by SNI until the hostname is changed", claim.Tenant);
            }
        }
    }
}
