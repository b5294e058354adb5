using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Snapshots;
using XdsControlPlane.Model;
using CoreCidr = Envoy.Config.Core.V3.CidrRange;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3;
using IpMatcher = Envoy.Extensions.Matching.InputMatchers.Ip.V3.Ip;
using NetworkInputs = Envoy.Extensions.Matching.CommonInputs.Network.V3;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3;
using Rbac = Envoy.Config.Rbac.V3;
using TypedExtensionConfig = Xds.Core.V3.TypedExtensionConfig;
using XdsMatcher = Xds.Type.Matcher.V3.Matcher;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Turns an <see cref="AllowlistDecision"/> into Envoy RBAC: network RBAC for TCP paths (SNI, NodePort) and
/// a per-route HTTP RBAC for the tunneling virtual hosts. Both carry the same rules.
/// </summary>
public static class RbacConfigs
{
    /// <summary>
    /// What a tenant's RBAC configs enforce (or shadow), built once per tenant and shared by its SNI, NodePort
    /// and tunneling configs: only the stat prefixes differ between them. Null when the decision serves no filter.
    /// </summary>
    public static RbacBody? Body(string tenantId, AllowlistDecision decision, SeedSettings seed) => decision switch
    {
        { EmitsFilter: false } => null,
        { Enforcement: Enforcement.NotEnforceableDenyAll } => new RbacBody(DenyAll(), null, Shadow: false),
        { Form: RangeForm.TrieMatcher } => new RbacBody(null, Matcher(tenantId, decision.EffectiveRanges, seed), decision.Enforcement == Enforcement.DryRun),
        _ => new RbacBody(Rules(tenantId, decision.EffectiveRanges, seed), null, decision.Enforcement == Enforcement.DryRun),
    };

    /// <summary>The network RBAC filter config, or null when the decision serves no filter.</summary>
    public static NetworkRbac.RBAC? Network(string tenantId, string path, AllowlistDecision decision, SeedSettings seed) =>
        Network(tenantId, path, Body(tenantId, decision, seed));

    /// <summary>The network RBAC filter config for one path, from the tenant's shared <paramref name="body"/>.</summary>
    public static NetworkRbac.RBAC? Network(string tenantId, string path, RbacBody? body)
    {
        if (body is null)
        {
            return null;
        }
        var config = new NetworkRbac.RBAC { StatPrefix = EnvoyNames.TenantStatPrefix(tenantId, path) };
        if (body.Shadow)
        {
            config.ShadowRules = body.Rules;
            config.ShadowMatcher = body.Matcher;
            config.ShadowRulesStatPrefix = "shadow.";
        }
        else
        {
            config.Rules = body.Rules;
            config.Matcher = body.Matcher;
        }
        return config;
    }

    /// <summary><c>rules</c> absent: the filter enforces nothing (ECDS delivery for a tenant without a list).</summary>
    public static NetworkRbac.RBAC NetworkUnrestricted(string tenantId, string path) =>
        new() { StatPrefix = EnvoyNames.TenantStatPrefix(tenantId, path) };

    /// <summary>Rules with no policy: every connection denied, counted under the tenant's prefix (the ECDS default config).</summary>
    public static NetworkRbac.RBAC NetworkDenyAll(string tenantId, string path) =>
        new() { StatPrefix = EnvoyNames.TenantStatPrefix(tenantId, path), Rules = DenyAll() };

    /// <summary>The per-virtual-host HTTP RBAC override for a tunneled tenant, or null for no filter.</summary>
    public static HttpRbac.RBACPerRoute? Http(string tenantId, AllowlistDecision decision, SeedSettings seed) =>
        Http(tenantId, Body(tenantId, decision, seed));

    /// <summary>The HTTP RBAC override from the tenant's shared <paramref name="body"/>.</summary>
    public static HttpRbac.RBACPerRoute? Http(string tenantId, RbacBody? body)
    {
        if (body is null)
        {
            return null;
        }
        var config = new HttpRbac.RBAC();
        var prefix = EnvoyNames.TenantStatPrefix(tenantId, "tunneling");
        if (body.Shadow)
        {
            config.ShadowRules = body.Rules;
            config.ShadowMatcher = body.Matcher;
            config.ShadowRulesStatPrefix = prefix;
        }
        else
        {
            config.Rules = body.Rules;
            config.Matcher = body.Matcher;
            config.RulesStatPrefix = prefix;
        }
        return new HttpRbac.RBACPerRoute { Rbac = config };
    }

    /// <summary>The base HTTP RBAC filter on the tunneling listener: no rules, so only virtual hosts with an override are restricted.</summary>
    public static HttpRbac.RBAC HttpBase() => new();

    public static string PolicyName(string tenantId) => $"allow-{tenantId}";

    /// <summary><c>rules</c> present with no policies: Envoy denies everything.</summary>
    private static Rbac.RBAC DenyAll() => new() { Action = Rbac.RBAC.Types.Action.Allow };

    private static Rbac.RBAC Rules(string tenantId, CidrSet ranges, SeedSettings seed)
    {
        var policy = new Rbac.Policy();
        policy.Permissions.Add(new Rbac.Permission { Any = true });
        if (seed.ProxyProtocol)
        {
            // A PROXY header is believed only from the load balancer: (peer is the LB AND claimed address
            // allowed) OR the peer itself is allowed (in-seed clients connecting without PROXY).
            var viaLoadBalancer = new Rbac.Principal { AndIds = new Rbac.Principal.Types.Set() };
            viaLoadBalancer.AndIds.Ids.Add(AnyOf(seed.ProxyProtocolTrustedRanges, r => new Rbac.Principal { DirectRemoteIp = r }));
            viaLoadBalancer.AndIds.Ids.Add(AnyOf(ranges.Normalized, r => new Rbac.Principal { RemoteIp = r }));
            policy.Principals.Add(viaLoadBalancer);
            policy.Principals.Add(AnyOf(ranges.Normalized, r => new Rbac.Principal { DirectRemoteIp = r }));
        }
        else
        {
            policy.Principals.Capacity = ranges.Normalized.Count;
            foreach (var range in ranges.Normalized)
            {
                policy.Principals.Add(new Rbac.Principal { DirectRemoteIp = ToEnvoy(range) });
            }
        }
        var rules = new Rbac.RBAC { Action = Rbac.RBAC.Types.Action.Allow };
        rules.Policies.Add(PolicyName(tenantId), policy);
        return rules;
    }

    private static Rbac.Principal AnyOf(IEnumerable<CidrRange> ranges, Func<CoreCidr, Rbac.Principal> principal)
    {
        var set = new Rbac.Principal.Types.Set();
        foreach (var range in ranges)
        {
            set.Ids.Add(principal(ToEnvoy(range)));
        }
        return set.Ids.Count == 1 ? set.Ids[0] : new Rbac.Principal { OrIds = set };
    }

    /// <summary>
    /// The same policy as an xDS matcher tree whose leaves are Envoy's LC-trie <c>Ip</c> matchers: no match
    /// means deny (RBAC <c>matcher</c> semantics), so only the allow branches are spelled out.
    /// </summary>
    private static XdsMatcher Matcher(string tenantId, CidrSet ranges, SeedSettings seed)
    {
        var list = new XdsMatcher.Types.MatcherList();
        var allow = OnMatch(PolicyName(tenantId), Rbac.RBAC.Types.Action.Allow);
        if (seed.ProxyProtocol)
        {
            var both = new XdsMatcher.Types.MatcherList.Types.Predicate
            {
                AndMatcher = new XdsMatcher.Types.MatcherList.Types.Predicate.Types.PredicateList(),
            };
            both.AndMatcher.Predicate.Add(IpPredicate(EnvoyNames.DirectSourceIpInput, new NetworkInputs.DirectSourceIPInput(),
                seed.ProxyProtocolTrustedRanges, $"tenant_{tenantId}_lb"));
            both.AndMatcher.Predicate.Add(IpPredicate(EnvoyNames.SourceIpInput, new NetworkInputs.SourceIPInput(),
                ranges.Normalized, $"tenant_{tenantId}_allow"));
            list.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher { Predicate = both, OnMatch = allow });
        }
        list.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher
        {
            Predicate = IpPredicate(EnvoyNames.DirectSourceIpInput, new NetworkInputs.DirectSourceIPInput(),
                ranges.Normalized, $"tenant_{tenantId}_allow_direct"),
            OnMatch = allow,
        });
        return new XdsMatcher
        {
            MatcherList = list,
            OnNoMatch = OnMatch($"deny-{tenantId}", Rbac.RBAC.Types.Action.Deny),
        };
    }

    private static XdsMatcher.Types.OnMatch OnMatch(string name, Rbac.RBAC.Types.Action action) => new()
    {
        Action = new TypedExtensionConfig
        {
            Name = EnvoyNames.RbacAction,
            TypedConfig = ProtoBytes.Pack(new Rbac.Action { Name = name, Action_ = action }),
        },
    };

    private static XdsMatcher.Types.MatcherList.Types.Predicate IpPredicate(string inputName, IMessage input, IEnumerable<CidrRange> ranges, string statPrefix)
    {
        var ip = new IpMatcher { StatPrefix = statPrefix };
        foreach (var range in ranges)
        {
            ip.CidrRanges.Add(ToEnvoy(range));
        }
        return new XdsMatcher.Types.MatcherList.Types.Predicate
        {
            SinglePredicate = new XdsMatcher.Types.MatcherList.Types.Predicate.Types.SinglePredicate
            {
                Input = new TypedExtensionConfig { Name = inputName, TypedConfig = ProtoBytes.Pack(input) },
                CustomMatch = new TypedExtensionConfig { Name = EnvoyNames.IpMatcher, TypedConfig = ProtoBytes.Pack(ip) },
            },
        };
    }

    public static CoreCidr ToEnvoy(CidrRange range) => new()
    {
        AddressPrefix = range.NetworkText,
        PrefixLen = (uint)range.PrefixLength,
    };
}

/// <summary>
/// The rules or the matcher of a tenant's RBAC (exactly one is set), and whether they are shadow rules (dry run).
/// Shared, never mutated: protobuf messages may appear in several parents, each serialises them the same.
/// </summary>
public sealed record RbacBody(Rbac.RBAC? Rules, XdsMatcher? Matcher, bool Shadow);
