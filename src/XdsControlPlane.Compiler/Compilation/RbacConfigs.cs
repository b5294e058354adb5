using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Cidr;
using XdsControlPlane.Snapshots;
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
    /// What a tenant's RBAC configs enforce (or shadow), encoded once per tenant and shared by its SNI, NodePort
    /// and tunneling configs: only the stat prefixes differ between them. Null when the decision serves no filter.
    /// </summary>
    public static RbacBody? Body(string tenantId, AllowlistDecision decision, SeedSettings seed) => decision switch
    {
        { EmitsFilter: false } => null,
        // Rules present with no policy: Envoy denies everything.
        { Enforcement: Enforcement.NotEnforceableDenyAll } => new RbacBody(ByteString.Empty, IsMatcher: false, Shadow: false),
        { Form: RangeForm.TrieMatcher } => new RbacBody(ProtoBytes.Serialize(Matcher(tenantId, decision.EffectiveRanges, seed)),
            IsMatcher: true, decision.Enforcement == Enforcement.DryRun),
        _ => new RbacBody(Rules(tenantId, decision.EffectiveRanges, seed), IsMatcher: false, decision.Enforcement == Enforcement.DryRun),
    };

    /// <summary>
    /// Writes the network RBAC filter config's fields for one path from the tenant's shared <paramref name="body"/>;
    /// with no body, a config without <c>rules</c>, which enforces nothing (ECDS delivery for a tenant without a list).
    /// </summary>
    public static ProtoWriter WriteNetwork(ProtoWriter writer, string tenantId, string path, RbacBody? body)
    {
        if (body is { IsMatcher: false })
        {
            writer.Message(body.Shadow ? NetworkRbac.RBAC.ShadowRulesFieldNumber : NetworkRbac.RBAC.RulesFieldNumber, body.Encoded.Span);
        }
        writer.String(NetworkRbac.RBAC.StatPrefixFieldNumber, EnvoyNames.TenantStatPrefix(tenantId, path));
        if (body is { Shadow: true })
        {
            writer.String(NetworkRbac.RBAC.ShadowRulesStatPrefixFieldNumber, "shadow.");
        }
        if (body is { IsMatcher: true })
        {
            writer.Message(body.Shadow ? NetworkRbac.RBAC.ShadowMatcherFieldNumber : NetworkRbac.RBAC.MatcherFieldNumber, body.Encoded.Span);
        }
        return writer;
    }

    /// <summary>Rules with no policy: every connection denied, counted under the tenant's prefix (the ECDS default config).</summary>
    public static ProtoWriter WriteNetworkDenyAll(ProtoWriter writer, string tenantId, string path) => writer
        .Message(NetworkRbac.RBAC.RulesFieldNumber, [])
        .String(NetworkRbac.RBAC.StatPrefixFieldNumber, EnvoyNames.TenantStatPrefix(tenantId, path));

    /// <summary>Writes the <c>RBACPerRoute</c> fields from the tenant's shared <paramref name="body"/>.</summary>
    public static ProtoWriter WriteHttp(ProtoWriter writer, string tenantId, RbacBody body)
    {
        var prefix = EnvoyNames.TenantStatPrefix(tenantId, "tunneling");
        writer.Begin(HttpRbac.RBACPerRoute.RbacFieldNumber);
        if (!body.IsMatcher)
        {
            writer.Message(body.Shadow ? HttpRbac.RBAC.ShadowRulesFieldNumber : HttpRbac.RBAC.RulesFieldNumber, body.Encoded.Span);
        }
        if (body.Shadow)
        {
            writer.String(HttpRbac.RBAC.ShadowRulesStatPrefixFieldNumber, prefix);
        }
        if (body.IsMatcher)
        {
            writer.Message(body.Shadow ? HttpRbac.RBAC.ShadowMatcherFieldNumber : HttpRbac.RBAC.MatcherFieldNumber, body.Encoded.Span);
        }
        if (!body.Shadow)
        {
            writer.String(HttpRbac.RBAC.RulesStatPrefixFieldNumber, prefix);
        }
        return writer.End();
    }

    /// <summary>The base HTTP RBAC filter on the tunneling listener: no rules, so only virtual hosts with an override are restricted.</summary>
    public static HttpRbac.RBAC HttpBase() => new();

    public static string PolicyName(string tenantId) => $"allow-{tenantId}";

    /// <summary>
    /// The <c>config.rbac.v3.RBAC</c> rules, written without building a principal per range (22 principals, ranges
    /// and strings per tenant were the largest share of a full compile's garbage):
    /// <c>RBAC { action: ALLOW (0, left out); policies: { "allow-&lt;id&gt;": Policy { permissions: [any], principals } } }</c>.
    /// </summary>
    private static ByteString Rules(string tenantId, CidrSet ranges, SeedSettings seed)
    {
        var writer = ProtoWriter.Start()
            .Begin(Rbac.RBAC.PoliciesFieldNumber)                 // a map entry
            .String(1, PolicyName(tenantId))                      // key
            .Begin(2)                                             // value: Policy
            .Begin(Rbac.Policy.PermissionsFieldNumber).Bool(Rbac.Permission.AnyFieldNumber, true).End();
        if (seed.ProxyProtocol)
        {
            // A PROXY header is believed only from the load balancer, and a connection from the load balancer is
            // judged by its header alone: (peer is the LB AND claimed address allowed) OR (peer is not the LB AND
            // the peer itself is allowed: in-seed clients connecting without PROXY). Without the NOT, a list that
            // covers the load balancer's own addresses would admit every client it relays, whatever the header says.
            writer.Begin(Rbac.Policy.PrincipalsFieldNumber)
                .Begin(Rbac.Principal.AndIdsFieldNumber);
            AnyOf(writer, Rbac.Principal.Types.Set.IdsFieldNumber, seed.ProxyProtocolTrustedRanges, Rbac.Principal.DirectRemoteIpFieldNumber);
            AnyOf(writer, Rbac.Principal.Types.Set.IdsFieldNumber, ranges.Normalized, Rbac.Principal.RemoteIpFieldNumber);
            writer.End().End();
            writer.Begin(Rbac.Policy.PrincipalsFieldNumber)
                .Begin(Rbac.Principal.AndIdsFieldNumber)
                .Begin(Rbac.Principal.Types.Set.IdsFieldNumber);
            AnyOf(writer, Rbac.Principal.NotIdFieldNumber, seed.ProxyProtocolTrustedRanges, Rbac.Principal.DirectRemoteIpFieldNumber);
            writer.End();
            AnyOf(writer, Rbac.Principal.Types.Set.IdsFieldNumber, ranges.Normalized, Rbac.Principal.DirectRemoteIpFieldNumber);
            writer.End().End();
        }
        else
        {
            var normalized = ranges.Normalized;
            for (var i = 0; i < normalized.Count; i++)
            {
                writer.Begin(Rbac.Policy.PrincipalsFieldNumber);
                WriteCidr(writer, Rbac.Principal.DirectRemoteIpFieldNumber, normalized[i]);
                writer.End();
            }
        }
        return writer.End().End().Finish();
    }

    /// <summary>One principal matching any of <paramref name="ranges"/> on <paramref name="addressField"/>: the range itself when there is one, else an <c>or_ids</c> of them.</summary>
    private static void AnyOf(ProtoWriter writer, int field, IReadOnlyList<CidrRange> ranges, int addressField)
    {
        writer.Begin(field);
        if (ranges.Count == 1)
        {
            WriteCidr(writer, addressField, ranges[0]);
            writer.End();
            return;
        }
        writer.Begin(Rbac.Principal.OrIdsFieldNumber);
        for (var i = 0; i < ranges.Count; i++)
        {
            writer.Begin(Rbac.Principal.Types.Set.IdsFieldNumber);
            WriteCidr(writer, addressField, ranges[i]);
            writer.End();
        }
        writer.End().End();
    }

    /// <summary><c>config.core.v3.CidrRange { address_prefix; prefix_len: UInt32Value }</c>, as <see cref="ToEnvoy"/> builds it.</summary>
    private static void WriteCidr(ProtoWriter writer, int field, CidrRange range)
    {
        Span<char> text = stackalloc char[CidrRange.MaxTextLength];
        var length = range.Format(text);
        writer.Begin(field)
            .String(CoreCidr.AddressPrefixFieldNumber, text[..text[..length].IndexOf('/')])
            .Begin(CoreCidr.PrefixLenFieldNumber).UInt32(1, (uint)range.PrefixLength).End()
            .End();
    }

    /// <summary>
    /// The same policy as an xDS matcher tree whose leaves are Envoy's LC-trie <c>Ip</c> matchers: the first
    /// matching branch decides, and no match denies. With PROXY protocol:
    /// <c>direct ∈ LB → (source ∈ list → allow; else deny); direct ∈ list → allow; else deny</c>.
    /// </summary>
    private static XdsMatcher Matcher(string tenantId, CidrSet ranges, SeedSettings seed)
    {
        var list = new XdsMatcher.Types.MatcherList();
        var allow = OnMatch(PolicyName(tenantId), Rbac.RBAC.Types.Action.Allow);
        var deny = OnMatch($"deny-{tenantId}", Rbac.RBAC.Types.Action.Deny);
        if (seed.ProxyProtocol)
        {
            // A peer in the load balancer's ranges is judged by the PROXY header's address alone: its branch ends in a
            // nested matcher whose on_no_match denies, so a relayed client outside the list never falls through to the
            // direct branch below (which would admit it whenever the list covers the load balancer's own addresses).
            var relayed = new XdsMatcher.Types.MatcherList();
            relayed.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher
            {
                Predicate = IpPredicate(EnvoyNames.SourceIpInput, new NetworkInputs.SourceIPInput(), ranges.Normalized, $"tenant_{tenantId}_allow"),
                OnMatch = allow,
            });
            list.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher
            {
                Predicate = IpPredicate(EnvoyNames.DirectSourceIpInput, new NetworkInputs.DirectSourceIPInput(),
                    seed.ProxyProtocolTrustedRanges, $"tenant_{tenantId}_lb"),
                OnMatch = new XdsMatcher.Types.OnMatch { Matcher = new XdsMatcher { MatcherList = relayed, OnNoMatch = deny } },
            });
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
            OnNoMatch = deny,
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
/// A tenant's RBAC policy, encoded: the <c>config.rbac.v3.RBAC</c> rules or, when <paramref name="IsMatcher"/>, the
/// xDS matcher; and whether they are shadow rules (dry run).
/// </summary>
public sealed record RbacBody(ByteString Encoded, bool IsMatcher, bool Shadow);
