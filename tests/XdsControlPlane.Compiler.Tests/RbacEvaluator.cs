using System.Net;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Snapshots;
using CoreCidr = Envoy.Config.Core.V3.CidrRange;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManager;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;
using ProxyProtocol = Envoy.Extensions.Filters.Listener.ProxyProtocol.V3.ProxyProtocol;
using EnvoyRbac = Envoy.Config.Rbac.V3;
using XdsMatcher = Xds.Type.Matcher.V3.Matcher;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// An independent reading of the configuration we emit, written from Envoy's documented semantics (not from the
/// compiler, whose names and helpers it does not use): it follows a connection through a listener as Envoy
/// would, reading every filter by its type URL, inline or by ECDS, and answers whether it reaches the upstream.
/// </summary>
/// <remarks>
/// What is modelled: the <c>proxy_protocol</c> listener filter (a header, from any peer, sets the remote
/// address; the direct remote address stays the peer); network RBAC and HTTP RBAC (rules absent = allow; ALLOW
/// rules admit iff some policy has a matching permission AND a matching principal; DENY the reverse; shadow
/// rules enforce nothing; a matcher's first matching field matcher decides, a nested matcher that does not
/// match and has no on_no_match lets the list go on, else <c>on_no_match</c>, else no match = deny); a route's
/// or virtual host's <c>typed_per_filter_config</c> overriding the HTTP filter's config (an <c>RBACPerRoute</c>
/// without <c>rbac</c> disables the filter). Anything else we do not expect in our output throws, so a new
/// construct cannot be silently misread. Addresses are compared with System.Net.IPNetwork.
/// </remarks>
public static class RbacEvaluator
{
    private const string NetworkRbacType = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";
    private const string HttpRbacType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";
    private const string HttpRbacPerRouteType = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute";
    private const string TcpProxyType = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
    private const string HcmType = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
    private const string RouterType = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
    private const string ProxyProtocolType = "type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol";
    private const string TlsInspectorType = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector";
    private const string DirectSourceIpType = "type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DirectSourceIPInput";
    private const string SourceIpType = "type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.SourceIPInput";
    private const string IpMatcherType = "type.googleapis.com/envoy.extensions.matching.input_matchers.ip.v3.Ip";
    private const string RbacActionType = "type.googleapis.com/envoy.config.rbac.v3.Action";
    private const string ListenerType = "type.googleapis.com/envoy.config.listener.v3.Listener";
    private const string RouteType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
    private const string ScopedRouteType = "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration";
    private const string ExtensionConfigType = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

    /// <summary>A TLS connection to <c>sni_listener</c> naming <paramref name="hostname"/>, from <paramref name="peer"/>, with an optional PROXY header.</summary>
    public static bool SniAllows(Snapshot snapshot, string hostname, IPAddress peer, IPAddress? proxyHeader = null)
    {
        var listener = Listener(snapshot, "sni_listener");
        var chain = listener.FilterChains.Single(c => c.FilterChainMatch.ServerNames.Contains(hostname));
        Assert.Equal("tls", chain.FilterChainMatch.TransportProtocol);
        Assert.Contains(listener.ListenerFilters, f => f.TypedConfig?.TypeUrl == TlsInspectorType);
        return Connect(snapshot, listener, chain, peer, proxyHeader, authority: null);
    }

    /// <summary>A TCP connection to the NodePort listener <paramref name="listenerName"/>.</summary>
    public static bool NodePortAllows(Snapshot snapshot, string listenerName, IPAddress peer, IPAddress? proxyHeader = null)
    {
        var listener = Listener(snapshot, listenerName);
        return Connect(snapshot, listener, listener.FilterChains.Single(), peer, proxyHeader, authority: null);
    }

    /// <summary>An HTTP/2 CONNECT to <paramref name="authority"/> on <c>tunneling_listener</c>.</summary>
    public static bool TunnelingAllows(Snapshot snapshot, string authority, IPAddress peer, IPAddress? proxyHeader = null)
    {
        var listener = Listener(snapshot, "tunneling_listener");
        return Connect(snapshot, listener, listener.FilterChains.Single(), peer, proxyHeader, authority);
    }

    /// <summary>
    /// The network RBAC config on the SNI chain for <paramref name="hostname"/> (found by type URL, inline or by
    /// ECDS), or null if the chain has none: for tests that compare configs or ask about one config alone.
    /// </summary>
    public static NetworkRbac? SniRbac(Snapshot snapshot, string hostname)
    {
        var chain = Listener(snapshot, "sni_listener").FilterChains.Single(c => c.FilterChainMatch.ServerNames.Contains(hostname));
        return ChainRbac(snapshot, chain);
    }

    /// <summary>The network RBAC config of any filter chain (found by type URL, inline or by ECDS), or null if it has none.</summary>
    public static NetworkRbac? ChainRbac(Snapshot snapshot, FilterChain chain) =>
        chain.Filters.Select(f => FilterConfig(snapshot, f)).Where(c => c.TypeUrl == NetworkRbacType)
            .Select(c => c.Unpack<NetworkRbac>()).SingleOrDefault();

    /// <summary>One network RBAC config alone (none = allow), for a connection from <paramref name="direct"/> claiming <paramref name="remote"/>.</summary>
    public static bool Allows(NetworkRbac? config, IPAddress direct, IPAddress? remote = null) =>
        config is null || Allows(config.Rules, config.Matcher, direct, remote ?? direct);

    private static Listener Listener(Snapshot snapshot, string name) =>
        Assert.IsType<Listener>(snapshot.Get(ListenerType).Resources[name].Message);

    private static bool Connect(Snapshot snapshot, Listener listener, FilterChain chain, IPAddress peer, IPAddress? header, string? authority)
    {
        var remote = peer;
        var proxyProtocol = listener.ListenerFilters.FirstOrDefault(f => f.TypedConfig?.TypeUrl == ProxyProtocolType);
        if (proxyProtocol is not null)
        {
            var config = proxyProtocol.TypedConfig.Unpack<ProxyProtocol>();
            if (header is null && !config.AllowRequestsWithoutProxyProtocol)
            {
                return false;
            }
            // Envoy believes a header from any peer: trusting it only from the load balancer is RBAC's job.
            remote = header ?? peer;
        }
        else
        {
            Assert.True(header is null, "a PROXY header sent to a listener without the proxy_protocol filter is not parsed; the test means something else");
        }
        foreach (var filter in chain.Filters)
        {
            var config = FilterConfig(snapshot, filter);
            switch (config.TypeUrl)
            {
                case NetworkRbacType:
                    var rbac = config.Unpack<NetworkRbac>();
                    if (!Allows(rbac.Rules, rbac.Matcher, peer, remote))
                    {
                        return false;
                    }
                    break;
                case TcpProxyType:
                    Assert.Null(authority);
                    return true;
                case HcmType:
                    Assert.NotNull(authority);
                    return Http(snapshot, config.Unpack<Hcm>(), authority, peer, remote);
                default:
                    throw new NotSupportedException($"network filter type {config.TypeUrl} is not modelled");
            }
        }
        return false; // no terminal filter: the connection goes nowhere
    }

    /// <summary>
    /// A filter's config: inline, or by ECDS (<c>config_discovery</c>) followed as Envoy does: the
    /// TypedExtensionConfig of the filter's name in the snapshot, whose type must be one the filter accepts. A
    /// discovered filter whose config is missing would close connections: that is an error here.
    /// </summary>
    private static Any FilterConfig(Snapshot snapshot, Filter filter)
    {
        if (filter.TypedConfig is { } inline)
        {
            return inline;
        }
        Assert.NotNull(filter.ConfigDiscovery);
        var extensions = snapshot.Get(ExtensionConfigType).Resources;
        Assert.True(extensions.ContainsKey(filter.Name), $"ECDS filter '{filter.Name}' has no TypedExtensionConfig");
        var config = Assert.IsType<Envoy.Config.Core.V3.TypedExtensionConfig>(extensions[filter.Name].Message);
        Assert.Equal(filter.Name, config.Name);
        Assert.Contains(config.TypedConfig.TypeUrl, filter.ConfigDiscovery.TypeUrls);
        return config.TypedConfig;
    }

    /// <summary>The HCM's route for the CONNECT, then its HTTP filters in order, each RBAC with the route's override if any.</summary>
    private static bool Http(Snapshot snapshot, Hcm hcm, string authority, IPAddress direct, IPAddress remote)
    {
        // With use_remote_address and no trusted hops, the client address is the connection's, never X-Forwarded-For.
        Assert.True(hcm.UseRemoteAddress);
        Assert.Equal(0u, hcm.XffNumTrustedHops);
        var routes = RouteConfigurationFor(snapshot, hcm, authority);
        if (routes is null)
        {
            return false;
        }
        var host = routes.VirtualHosts.FirstOrDefault(v => v.Domains.Contains(authority)) ?? routes.VirtualHosts.FirstOrDefault(v => v.Domains.Contains("*"));
        var route = host?.Routes.FirstOrDefault(r => r.Match.ConnectMatcher is not null);
        if (host is null || route is null)
        {
            return false; // 404
        }
        foreach (var filter in hcm.HttpFilters)
        {
            switch (filter.TypedConfig.TypeUrl)
            {
                case HttpRbacType:
                    var config = filter.TypedConfig.Unpack<HttpRbac.RBAC>();
                    // The most specific per-filter config wins: route, then virtual host, then route configuration.
                    var perRoute = PerFilter(route.TypedPerFilterConfig, filter.Name)
                        ?? PerFilter(host.TypedPerFilterConfig, filter.Name)
                        ?? PerFilter(routes.TypedPerFilterConfig, filter.Name);
                    if (perRoute is not null)
                    {
                        Assert.Equal(HttpRbacPerRouteType, perRoute.TypeUrl);
                        var over = perRoute.Unpack<HttpRbac.RBACPerRoute>();
                        if (over.Rbac is null)
                        {
                            break; // an override without rbac disables the filter for the route
                        }
                        config = over.Rbac;
                    }
                    if (!Allows(config.Rules, config.Matcher, direct, remote))
                    {
                        return false;
                    }
                    break;
                case RouterType:
                    return true;
                default:
                    throw new NotSupportedException($"HTTP filter type {filter.TypedConfig.TypeUrl} is not modelled");
            }
        }
        return false;
    }

    private static Any? PerFilter(Google.Protobuf.Collections.MapField<string, Any> map, string name) =>
        map.TryGetValue(name, out var config) ? config : null;

    /// <summary>The route configuration the HCM picks for <paramref name="authority"/>: inline, by RDS, or by scope (inline or SRDS).</summary>
    private static RouteConfiguration? RouteConfigurationFor(Snapshot snapshot, Hcm hcm, string authority)
    {
        switch (hcm.RouteSpecifierCase)
        {
            case Hcm.RouteSpecifierOneofCase.RouteConfig:
                return hcm.RouteConfig;
            case Hcm.RouteSpecifierOneofCase.Rds:
                return RdsRoute(snapshot, hcm.Rds.RouteConfigName);
            case Hcm.RouteSpecifierOneofCase.ScopedRoutes:
                var scoped = hcm.ScopedRoutes;
                var key = new List<string>();
                foreach (var fragment in scoped.ScopeKeyBuilder.Fragments)
                {
                    var extractor = fragment.HeaderValueExtractor;
                    Assert.Equal(":authority", extractor.Name);
                    var parts = authority.Split(extractor.ElementSeparator);
                    if (extractor.Index >= parts.Length)
                    {
                        return null;
                    }
                    key.Add(parts[extractor.Index]);
                }
                IEnumerable<ScopedRouteConfiguration> scopes = scoped.ConfigSpecifierCase == Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.ScopedRoutes.ConfigSpecifierOneofCase.ScopedRouteConfigurationsList
                    ? scoped.ScopedRouteConfigurationsList.ScopedRouteConfigurations
                    : snapshot.Get(ScopedRouteType).Resources.Values.Select(r => Assert.IsType<ScopedRouteConfiguration>(r.Message));
                var scope = scopes.FirstOrDefault(s => s.Key.Fragments.Select(f => f.StringKey).SequenceEqual(key));
                if (scope is null)
                {
                    return null;
                }
                return scope.RouteConfiguration ?? RdsRoute(snapshot, scope.RouteConfigurationName);
            default:
                throw new NotSupportedException($"route specifier {hcm.RouteSpecifierCase} is not modelled");
        }
    }

    private static RouteConfiguration RdsRoute(Snapshot snapshot, string name)
    {
        var resources = snapshot.Get(RouteType).Resources;
        Assert.True(resources.ContainsKey(name), $"RDS names '{name}', which the snapshot does not hold");
        return Assert.IsType<RouteConfiguration>(resources[name].Message);
    }

    /// <summary>
    /// One RBAC config (network or HTTP: both hold the same <c>rules</c> and <c>matcher</c>); shadow rules and shadow
    /// matchers are not read, since they enforce nothing.
    /// </summary>
    public static bool Allows(EnvoyRbac.RBAC? rules, XdsMatcher? matcher, IPAddress direct, IPAddress remote)
    {
        Assert.False(rules is not null && matcher is not null, "rules and matcher are exclusive");
        if (matcher is not null)
        {
            return Evaluate(matcher, direct, remote) is { } action && action.Action_ == EnvoyRbac.RBAC.Types.Action.Allow;
        }
        if (rules is null)
        {
            return true;
        }
        var any = rules.Policies.Values.Any(p => p.Permissions.Any(Permits) && p.Principals.Any(pr => Matches(pr, direct, remote)));
        return rules.Action switch
        {
            EnvoyRbac.RBAC.Types.Action.Allow => any,
            EnvoyRbac.RBAC.Types.Action.Deny => !any,
            _ => throw new NotSupportedException($"RBAC action {rules.Action}"),
        };
    }

    /// <summary>Permissions on what is asked for, not who asks: a CONNECT or a TCP connection to our listeners. We emit only <c>any</c> and combinations.</summary>
    private static bool Permits(EnvoyRbac.Permission permission) => permission.RuleCase switch
    {
        EnvoyRbac.Permission.RuleOneofCase.Any => permission.Any,
        EnvoyRbac.Permission.RuleOneofCase.AndRules => permission.AndRules.Rules.All(Permits),
        EnvoyRbac.Permission.RuleOneofCase.OrRules => permission.OrRules.Rules.Any(Permits),
        EnvoyRbac.Permission.RuleOneofCase.NotRule => !Permits(permission.NotRule),
        _ => throw new NotSupportedException($"permission {permission.RuleCase} is not expected in our output"),
    };

    private static bool Matches(EnvoyRbac.Principal principal, IPAddress direct, IPAddress remote) => principal.IdentifierCase switch
    {
        EnvoyRbac.Principal.IdentifierOneofCase.Any => principal.Any,
        EnvoyRbac.Principal.IdentifierOneofCase.DirectRemoteIp => InRange(principal.DirectRemoteIp, direct),
        EnvoyRbac.Principal.IdentifierOneofCase.RemoteIp => InRange(principal.RemoteIp, remote),
        EnvoyRbac.Principal.IdentifierOneofCase.OrIds => principal.OrIds.Ids.Any(p => Matches(p, direct, remote)),
        EnvoyRbac.Principal.IdentifierOneofCase.AndIds => principal.AndIds.Ids.All(p => Matches(p, direct, remote)),
        EnvoyRbac.Principal.IdentifierOneofCase.NotId => !Matches(principal.NotId, direct, remote),
        _ => throw new NotSupportedException($"principal {principal.IdentifierCase} is not expected in our output"),
    };

    /// <summary>The action a matcher ends in, or null when it does not match (which RBAC treats as deny).</summary>
    private static EnvoyRbac.Action? Evaluate(XdsMatcher matcher, IPAddress direct, IPAddress remote)
    {
        if (matcher.MatcherTypeCase != XdsMatcher.MatcherTypeOneofCase.MatcherList)
        {
            throw new NotSupportedException($"matcher {matcher.MatcherTypeCase} is not modelled");
        }
        foreach (var field in matcher.MatcherList.Matchers)
        {
            if (Predicate(field.Predicate, direct, remote) && OnMatch(field.OnMatch, direct, remote) is { } action)
            {
                return action;
            }
        }
        return matcher.OnNoMatch is { } none ? OnMatch(none, direct, remote) : null;
    }

    /// <summary>An action, or a nested matcher's result: null (no match) lets the enclosing list go on.</summary>
    private static EnvoyRbac.Action? OnMatch(XdsMatcher.Types.OnMatch onMatch, IPAddress direct, IPAddress remote)
    {
        if (onMatch.Matcher is { } nested)
        {
            return Evaluate(nested, direct, remote);
        }
        Assert.Equal(RbacActionType, onMatch.Action.TypedConfig.TypeUrl);
        return onMatch.Action.TypedConfig.Unpack<EnvoyRbac.Action>();
    }

    private static bool Predicate(XdsMatcher.Types.MatcherList.Types.Predicate predicate, IPAddress direct, IPAddress remote)
    {
        switch (predicate.MatchTypeCase)
        {
            case XdsMatcher.Types.MatcherList.Types.Predicate.MatchTypeOneofCase.AndMatcher:
                return predicate.AndMatcher.Predicate.All(p => Predicate(p, direct, remote));
            case XdsMatcher.Types.MatcherList.Types.Predicate.MatchTypeOneofCase.OrMatcher:
                return predicate.OrMatcher.Predicate.Any(p => Predicate(p, direct, remote));
            case XdsMatcher.Types.MatcherList.Types.Predicate.MatchTypeOneofCase.NotMatcher:
                return !Predicate(predicate.NotMatcher, direct, remote);
            case XdsMatcher.Types.MatcherList.Types.Predicate.MatchTypeOneofCase.SinglePredicate:
                var single = predicate.SinglePredicate;
                var address = single.Input.TypedConfig.TypeUrl switch
                {
                    DirectSourceIpType => direct,
                    SourceIpType => remote,
                    var other => throw new NotSupportedException($"matcher input {other} is not modelled"),
                };
                if (single.MatcherCase != XdsMatcher.Types.MatcherList.Types.Predicate.Types.SinglePredicate.MatcherOneofCase.CustomMatch
                    || single.CustomMatch.TypedConfig.TypeUrl != IpMatcherType)
                {
                    throw new NotSupportedException($"single predicate {single.MatcherCase} is not modelled");
                }
                var ip = single.CustomMatch.TypedConfig.Unpack<Envoy.Extensions.Matching.InputMatchers.Ip.V3.Ip>();
                return ip.CidrRanges.Any(r => InRange(r, address));
            default:
                throw new NotSupportedException($"predicate {predicate.MatchTypeCase} is not modelled");
        }
    }

    private static bool InRange(CoreCidr range, IPAddress address)
    {
        var network = new IPNetwork(IPAddress.Parse(range.AddressPrefix), (int)(range.PrefixLen ?? 0));
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        return network.Contains(address);
    }
}
