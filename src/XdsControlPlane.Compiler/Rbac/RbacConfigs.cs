using Google.Protobuf;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;
using CoreCidr = Envoy.Config.Core.V3.CidrRange;
using EnvoyRbac = Envoy.Config.Rbac.V3;
using FieldMatcher = Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.FieldMatcher;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3;
using IpMatcher = Envoy.Extensions.Matching.InputMatchers.Ip.V3.Ip;
using MatcherList = Xds.Type.Matcher.V3.Matcher.Types.MatcherList;
using NetworkInputs = Envoy.Extensions.Matching.CommonInputs.Network.V3;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3;
using OnMatch = Xds.Type.Matcher.V3.Matcher.Types.OnMatch;
using Predicate = Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.Predicate;
using SinglePredicate = Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.Predicate.Types.SinglePredicate;
using TypedExtensionConfig = Xds.Core.V3.TypedExtensionConfig;
using XdsMatcher = Xds.Type.Matcher.V3.Matcher;

namespace XdsControlPlane.Compiler.Rbac;

/// <summary>
/// Turns an <see cref="AllowlistDecision"/> into Envoy RBAC: network RBAC for TCP paths (SNI, NodePort) and
/// a per-route HTTP RBAC for the tunneling virtual hosts. Both carry the same rules.
/// </summary>
internal static class RbacConfigs
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
        { Form: RangeForm.TrieMatcher } => new RbacBody(Matcher(tenantId, decision.EffectiveRanges, seed),
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

    public static string PolicyName(string tenantId) => $"allow-{tenantId}";

    /// <summary>
    /// The <c>config.rbac.v3.RBAC</c> rules, written without building a principal per range (22 principals, ranges
    /// and strings per tenant were the largest share of a full compile's garbage):
    /// <c>RBAC { action: ALLOW (0, left out); policies: { "allow-&lt;id&gt;": Policy { permissions: [any], principals } } }</c>.
    /// </summary>
    private static ByteString Rules(string tenantId, CidrSet ranges, SeedSettings seed)
    {
        var writer = ProtoWriter.Start()
            .Begin(EnvoyRbac.RBAC.PoliciesFieldNumber)                 // a map<string, Policy> entry
            .String(ProtoWriter.MapKeyFieldNumber, PolicyName(tenantId))
            .Begin(ProtoWriter.MapValueFieldNumber)
            .Begin(EnvoyRbac.Policy.PermissionsFieldNumber).BoolOneof(EnvoyRbac.Permission.AnyFieldNumber, true).End();
        if (seed.ProxyProtocol)
        {
            // A PROXY header is believed only from the load balancer, and a connection from the load balancer is
            // judged by its header alone: (peer is the LB AND claimed address allowed) OR (peer is not the LB AND
            // the peer itself is allowed: in-seed clients connecting without PROXY). Without the NOT, a list that
            // covers the load balancer's own addresses would admit every client it relays, whatever the header says.
            writer.Begin(EnvoyRbac.Policy.PrincipalsFieldNumber)
                .Begin(EnvoyRbac.Principal.AndIdsFieldNumber);
            AnyOf(writer, EnvoyRbac.Principal.Types.Set.IdsFieldNumber, seed.ProxyProtocolTrustedRanges, EnvoyRbac.Principal.DirectRemoteIpFieldNumber);
            AnyOf(writer, EnvoyRbac.Principal.Types.Set.IdsFieldNumber, ranges.Normalized, EnvoyRbac.Principal.RemoteIpFieldNumber);
            writer.End().End();
            writer.Begin(EnvoyRbac.Policy.PrincipalsFieldNumber)
                .Begin(EnvoyRbac.Principal.AndIdsFieldNumber)
                .Begin(EnvoyRbac.Principal.Types.Set.IdsFieldNumber);
            AnyOf(writer, EnvoyRbac.Principal.NotIdFieldNumber, seed.ProxyProtocolTrustedRanges, EnvoyRbac.Principal.DirectRemoteIpFieldNumber);
            writer.End();
            AnyOf(writer, EnvoyRbac.Principal.Types.Set.IdsFieldNumber, ranges.Normalized, EnvoyRbac.Principal.DirectRemoteIpFieldNumber);
            writer.End().End();
        }
        else
        {
            var normalized = ranges.Normalized;
            for (var i = 0; i < normalized.Count; i++)
            {
                writer.Begin(EnvoyRbac.Policy.PrincipalsFieldNumber);
                WriteCidr(writer, EnvoyRbac.Principal.DirectRemoteIpFieldNumber, normalized[i]);
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
        writer.Begin(EnvoyRbac.Principal.OrIdsFieldNumber);
        for (var i = 0; i < ranges.Count; i++)
        {
            writer.Begin(EnvoyRbac.Principal.Types.Set.IdsFieldNumber);
            WriteCidr(writer, addressField, ranges[i]);
            writer.End();
        }
        writer.End().End();
    }

    /// <summary>
    /// <c>config.core.v3.CidrRange { address_prefix: the network address; prefix_len: UInt32Value }</c>: the one
    /// encoding of a range, for RBAC principals and the trie matcher's <c>Ip</c> alike.
    /// </summary>
    private static void WriteCidr(ProtoWriter writer, int field, CidrRange range)
    {
        Span<char> text = stackalloc char[CidrRange.MaxTextLength];
        var length = range.Format(text);
        writer.Begin(field)
            .String(CoreCidr.AddressPrefixFieldNumber, text[..text[..length].IndexOf('/')])
            .UInt32Value(CoreCidr.PrefixLenFieldNumber, (uint)range.PrefixLength)
            .End();
    }

    /// <summary>
    /// The same policy as an xDS matcher tree whose leaves are Envoy's LC-trie <c>Ip</c> matchers: the first
    /// matching branch decides, and no match denies. With PROXY protocol:
    /// <c>direct ∈ LB → (source ∈ list → allow; else deny); direct ∈ list → allow; else deny</c>.
    /// </summary>
    private static ByteString Matcher(string tenantId, CidrSet ranges, SeedSettings seed)
    {
        var allow = PolicyName(tenantId);
        var deny = $"deny-{tenantId}";
        var writer = ProtoWriter.Start().Begin(XdsMatcher.MatcherListFieldNumber);
        if (seed.ProxyProtocol)
        {
            // A peer in the load balancer's ranges is judged by the PROXY header's address alone: its branch ends in a
            // nested matcher whose on_no_match denies, so a relayed client outside the list never falls through to the
            // direct branch below (which would admit it whenever the list covers the load balancer's own addresses).
            writer.Begin(MatcherList.MatchersFieldNumber);
            WriteIpPredicate(writer, EnvoyNames.DirectSourceIpInput, DirectSourceIpInputTypeUrl, seed.ProxyProtocolTrustedRanges, $"tenant_{tenantId}_lb");
            writer.Begin(FieldMatcher.OnMatchFieldNumber)
                .Begin(OnMatch.MatcherFieldNumber)
                .Begin(XdsMatcher.MatcherListFieldNumber)
                .Begin(MatcherList.MatchersFieldNumber);
            WriteIpPredicate(writer, EnvoyNames.SourceIpInput, SourceIpInputTypeUrl, ranges.Normalized, $"tenant_{tenantId}_allow");
            WriteAction(writer, FieldMatcher.OnMatchFieldNumber, allow, EnvoyRbac.RBAC.Types.Action.Allow);
            writer.End() // matchers
                .End(); // matcher_list
            WriteAction(writer, XdsMatcher.OnNoMatchFieldNumber, deny, EnvoyRbac.RBAC.Types.Action.Deny);
            writer.End() // matcher
                .End() // on_match
                .End(); // matchers
        }
        writer.Begin(MatcherList.MatchersFieldNumber);
        WriteIpPredicate(writer, EnvoyNames.DirectSourceIpInput, DirectSourceIpInputTypeUrl, ranges.Normalized, $"tenant_{tenantId}_allow_direct");
        WriteAction(writer, FieldMatcher.OnMatchFieldNumber, allow, EnvoyRbac.RBAC.Types.Action.Allow);
        writer.End() // matchers
            .End(); // matcher_list
        WriteAction(writer, XdsMatcher.OnNoMatchFieldNumber, deny, EnvoyRbac.RBAC.Types.Action.Deny);
        return writer.Finish();
    }

    /// <summary><c>OnMatch { action: TypedExtensionConfig { name: rbac action; typed_config: Action { name; action } } }</c>.</summary>
    private static void WriteAction(ProtoWriter writer, int field, string name, EnvoyRbac.RBAC.Types.Action action) => writer
        .Begin(field)
        .Begin(OnMatch.ActionFieldNumber)
        .String(TypedExtensionConfig.NameFieldNumber, EnvoyNames.RbacAction)
        .BeginAny(TypedExtensionConfig.TypedConfigFieldNumber, RbacActionTypeUrl)
        .String(EnvoyRbac.Action.NameFieldNumber, name)
        .UInt32(EnvoyRbac.Action.Action_FieldNumber, (uint)action) // ALLOW is 0, left out
        .EndAny()
        .End()
        .End();

    /// <summary>
    /// <c>predicate: { single_predicate: { input: { name; typed_config: the input (no fields) }; custom_match: { name: ip;
    /// typed_config: Ip { cidr_ranges; stat_prefix } } } }</c>.
    /// </summary>
    private static void WriteIpPredicate(ProtoWriter writer, string inputName, string inputTypeUrl, IReadOnlyList<CidrRange> ranges, string statPrefix)
    {
        writer.Begin(FieldMatcher.PredicateFieldNumber)
            .Begin(Predicate.SinglePredicateFieldNumber)
            .Begin(SinglePredicate.InputFieldNumber)
            .String(TypedExtensionConfig.NameFieldNumber, inputName)
            .EmptyAny(TypedExtensionConfig.TypedConfigFieldNumber, inputTypeUrl)
            .End()
            .Begin(SinglePredicate.CustomMatchFieldNumber)
            .String(TypedExtensionConfig.NameFieldNumber, EnvoyNames.IpMatcher)
            .BeginAny(TypedExtensionConfig.TypedConfigFieldNumber, IpMatcherTypeUrl);
        for (var i = 0; i < ranges.Count; i++)
        {
            WriteCidr(writer, IpMatcher.CidrRangesFieldNumber, ranges[i]);
        }
        writer.String(IpMatcher.StatPrefixFieldNumber, statPrefix)
            .EndAny()
            .End() // custom_match
            .End() // single_predicate
            .End(); // predicate
    }

    private static readonly string RbacActionTypeUrl = ProtoBytes.TypeUrlOf(EnvoyRbac.Action.Descriptor);
    private static readonly string IpMatcherTypeUrl = ProtoBytes.TypeUrlOf(IpMatcher.Descriptor);
    private static readonly string SourceIpInputTypeUrl = ProtoBytes.TypeUrlOf(NetworkInputs.SourceIPInput.Descriptor);
    private static readonly string DirectSourceIpInputTypeUrl = ProtoBytes.TypeUrlOf(NetworkInputs.DirectSourceIPInput.Descriptor);
}
