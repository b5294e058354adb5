using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Rbac;

/// <summary>The decision for one tenant, with the effective (normalised) ranges it rests on.</summary>
internal sealed record AllowlistDecision(Enforcement Enforcement, RangeForm Form, CidrSet EffectiveRanges, string Reason)
{
    /// <summary>
    /// Up to this many normalised ranges are emitted as principals; more go to the trie matcher. Envoy
    /// evaluates principals linearly (envoy#12285): ~8 ns a range (envoy PR #40485: 1,000 ranges 7.9 µs,
    /// trie 40 ns), once per connection. At 64 ranges that is ~0.5 µs per new connection, negligible next
    /// to a TLS handshake, and the dump stays readable; beyond it the trie's constant cost wins.
    /// </summary>
    public const int TrieThreshold = 64;

    public bool EmitsFilter => Enforcement is Enforcement.EnforcedDirect or Enforcement.EnforcedProxyProtocol
        or Enforcement.DryRun or Enforcement.NotEnforceableDenyAll;

    /// <summary>
    /// With PROXY protocol, whether the effective list shares addresses with the trusted load balancer ranges. Since
    /// a connection from the load balancer is judged by its PROXY header alone, that admits only header-less
    /// connections from the load balancer itself (its health checks), not the clients it relays; but earlier
    /// releases admitted every relayed client for such a list, so the admitted set of these tenants changed (see
    /// <see cref="Admission"/>).
    /// </summary>
    public bool ListsLoadBalancer(SeedSettings seed)
    {
        if (!seed.ProxyProtocol || EffectiveRanges.IsEmpty || seed.ProxyProtocolTrustedRanges.Count == 0)
        {
            return false;
        }
        var trusted = CidrSet.Build(seed.ProxyProtocolTrustedRanges);
        // Two CIDR ranges overlap exactly when one holds the other's network address.
        return EffectiveRanges.Normalized.Any(r => trusted.Contains(r.Network)) || trusted.Normalized.Any(t => EffectiveRanges.Contains(t.Network));
    }

    public static AllowlistDecision Decide(Tenant tenant, SeedSettings seed)
    {
        if (tenant.Strategy == ExposeStrategy.LoadBalancer)
        {
            return new(Enforcement.NotApplicable, RangeForm.None, CidrSet.Empty,
                "LoadBalancer strategy: the cluster's own load balancer enforces its list");
        }
        if (tenant.AllowedRanges.Count == 0)
        {
            return new(Enforcement.Unrestricted, RangeForm.None, CidrSet.Empty, "no allowlist: open, as without this feature");
        }
        var effective = CidrSet.Build([.. tenant.AllowedRanges.AsImmutableArray(), .. seed.DefaultAllowedRanges.AsImmutableArray()]);
        var form = effective.Normalized.Count > TrieThreshold ? RangeForm.TrieMatcher : RangeForm.Principals;
        var dryRun = tenant.AllowlistMode == AllowlistMode.DryRun;
        if (seed.ProxyProtocol)
        {
            return dryRun
                ? new(Enforcement.DryRun, form, effective, "dry run: shadow rules on the PROXY protocol address")
                : new(Enforcement.EnforcedProxyProtocol, form, effective, "PROXY protocol address, trusted only from the load balancer");
        }
        if (seed.SourceIpPreserved)
        {
            return dryRun
                ? new(Enforcement.DryRun, form, effective, "dry run: shadow rules on the client address")
                : new(Enforcement.EnforcedDirect, form, effective, "client address preserved by the load balancer");
        }
        var why = $"client addresses do not reach Envoy ({seed.SourceIpPreservedSource}) and PROXY protocol is off";
        var fix = seed.ServiceLosesClientAddress && SeedSettings.ProviderPreservesSourceIp(seed.Provider) && seed.SourceIpPreservedOverride is null
            ? $"set externalTrafficPolicy: Local on Service/{seed.NodePortProxyService}, enable PROXY protocol on the load balancer, or "
            : seed.Provider == CloudProvider.Unspecified && seed.SourceIpPreservedOverride is null
                ? "set nodeport-proxy.k8s.io/cloud-provider on the Seed if its load balancer keeps client addresses, enable PROXY protocol, or "
                : "enable PROXY protocol on the load balancer or ";
        return seed.Unenforceable == UnenforceablePolicy.DenyAll && !dryRun
            ? new(Enforcement.NotEnforceableDenyAll, RangeForm.None, effective,
                $"{why}: denying every connection (operator chose deny-all)")
            : new(Enforcement.NotEnforceableOpen, RangeForm.None, effective,
                $"{why}: NOT ENFORCED, the tenant is reachable from everywhere; {fix}" +
                "set nodeport-proxy.k8s.io/unenforceable-allowlist: deny-all on the Seed");
    }
}
