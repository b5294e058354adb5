using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Listener.ProxyProtocol.V3;
using Envoy.Extensions.Filters.Listener.TlsInspector.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;
using Filter = Envoy.Config.Listener.V3.Filter;
using HealthCheck = Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheck;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3.RBAC;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// The resources all tenants share: the stats listener and cluster, and the SNI and tunneling listeners that hold
/// their parts. Written field by field like every compiled resource (see <see cref="ProtoWriter"/>).
/// </summary>
internal static class SharedListeners
{
    /// <summary><c>ListenerFilter { name: proxy_protocol; typed_config: ProxyProtocol { allow_requests_without_proxy_protocol } }</c>.</summary>
    public static ByteString ProxyProtocolFilter() => ProtoWriter.Start()
        .String(ListenerFilter.NameFieldNumber, EnvoyNames.ProxyProtocol)
        // In-seed clients (and health checks) connect without a header; they stay working, and RBAC
        // trusts a header's address only when the peer is the load balancer.
        .BeginAny(ListenerFilter.TypedConfigFieldNumber, TypeUrl(ProxyProtocol.Descriptor))
        .Bool(ProxyProtocol.AllowRequestsWithoutProxyProtocolFieldNumber, true)
        .EndAny()
        .Finish();

    /// <summary>
    /// The read-only admin paths the stats listener forwards, by exact path (a query string is allowed: Envoy's exact
    /// <c>path</c> match ignores it) and only for GET. Envoy's admin has mutating endpoints (<c>/quitquitquit</c>,
    /// <c>/drain_listeners</c>, <c>/runtime_modify</c>, <c>/logging</c>, <c>/stats/recentlookups/enable</c>, ...) that
    /// a prefix or another method would reach from anywhere that reaches port 8002.
    /// </summary>
    public static IReadOnlyList<string> StatsPaths { get; } = ["/ready", "/stats", "/stats/prometheus"];

    /// <summary>
    /// envoy-manager's <c>service_stats</c>: <c>GET /healthz</c> answered by Envoy itself, <c>GET</c> of
    /// <see cref="StatsPaths"/> proxied to the admin port, everything else a 404 from Envoy (never the admin's).
    /// </summary>
    public static ByteString StatsListener(SeedSettings seed)
    {
        var writer = ProtoWriter.Start().String(Listener.NameFieldNumber, EnvoyNames.StatsListener);
        TenantCompiler.WriteSocketAddress(writer, Listener.AddressFieldNumber, "0.0.0.0", seed.StatsPort);
        writer.Begin(Listener.FilterChainsFieldNumber)
            .Begin(FilterChain.FiltersFieldNumber)
            .String(Filter.NameFieldNumber, EnvoyNames.HttpConnectionManager)
            .BeginAny(Filter.TypedConfigFieldNumber, TypeUrl(HttpConnectionManager.Descriptor))
            // codec_type: AUTO is 0, left out
            .String(HttpConnectionManager.StatPrefixFieldNumber, EnvoyNames.StatsListener)
            .Begin(HttpConnectionManager.RouteConfigFieldNumber)
            .String(RouteConfiguration.NameFieldNumber, EnvoyNames.StatsListener)
            .Begin(RouteConfiguration.VirtualHostsFieldNumber)
            .String(VirtualHost.NameFieldNumber, EnvoyNames.StatsListener)
            .RepeatedString(VirtualHost.DomainsFieldNumber, "*");
        foreach (var path in StatsPaths)
        {
            writer.Begin(VirtualHost.RoutesFieldNumber)
                .Begin(Route.MatchFieldNumber).StringOneof(RouteMatch.PathFieldNumber, path);
            WriteGetOnly(writer, RouteMatch.HeadersFieldNumber);
            writer.End()
                .Begin(Route.Route_FieldNumber).StringOneof(RouteAction.ClusterFieldNumber, EnvoyNames.StatsCluster).End()
                .End();
        }
        writer.Begin(VirtualHost.RoutesFieldNumber)
            .Begin(Route.MatchFieldNumber).StringOneof(RouteMatch.PrefixFieldNumber, "/").End()
            .Begin(Route.DirectResponseFieldNumber).UInt32(DirectResponseAction.StatusFieldNumber, 404).End()
            .End()
            .End() // virtual host
            .End() // route_config
            .Begin(HttpConnectionManager.HttpFiltersFieldNumber)
            .String(HttpFilter.NameFieldNumber, EnvoyNames.HealthCheck)
            .BeginAny(HttpFilter.TypedConfigFieldNumber, TypeUrl(HealthCheck.Descriptor))
            .BoolValue(HealthCheck.PassThroughModeFieldNumber, false)
            .Begin(HealthCheck.HeadersFieldNumber)
            .String(HeaderMatcher.NameFieldNumber, ":path")
            .Begin(HeaderMatcher.StringMatchFieldNumber).StringOneof(StringMatcher.ExactFieldNumber, "/healthz").End()
            .End();
        WriteGetOnly(writer, HealthCheck.HeadersFieldNumber);
        writer.EndAny()
            .End();
        WriteRouter(writer);
        return writer.EndAny() // the connection manager
            .End() // filter
            .End() // filter chain
            .Finish();
    }

    private static void WriteGetOnly(ProtoWriter writer, int field) => writer
        .Begin(field)
        .String(HeaderMatcher.NameFieldNumber, ":method")
        .Begin(HeaderMatcher.StringMatchFieldNumber).StringOneof(StringMatcher.ExactFieldNumber, "GET").End()
        .End();

    private static void WriteRouter(ProtoWriter writer) => writer
        .Begin(HttpConnectionManager.HttpFiltersFieldNumber)
        .String(HttpFilter.NameFieldNumber, EnvoyNames.Router)
        .EmptyAny(HttpFilter.TypedConfigFieldNumber, TypeUrl(Router.Descriptor))
        .End();

    /// <summary>The admin port as a static cluster: <c>STATIC</c>, round robin, 1 s connect timeout.</summary>
    public static ByteString StatsCluster(SeedSettings seed)
    {
        var writer = ProtoWriter.Start()
            .String(Cluster.NameFieldNumber, EnvoyNames.StatsCluster)
            // type is a oneof member (cluster_discovery_type): written though STATIC is 0
            .UInt32Oneof(Cluster.TypeFieldNumber, (uint)Cluster.Types.DiscoveryType.Static)
            .Duration(Cluster.ConnectTimeoutFieldNumber, TimeSpan.FromSeconds(1))
            // lb_policy: ROUND_ROBIN is 0, left out
            .Begin(Cluster.LoadAssignmentFieldNumber)
            .String(ClusterLoadAssignment.ClusterNameFieldNumber, EnvoyNames.StatsCluster)
            .Begin(ClusterLoadAssignment.EndpointsFieldNumber)
            .Begin(LocalityLbEndpoints.LbEndpointsFieldNumber)
            .Begin(LbEndpoint.EndpointFieldNumber);
        TenantCompiler.WriteSocketAddress(writer, Endpoint.AddressFieldNumber, "127.0.0.1", seed.AdminPort);
        return writer.End().End().End().End().Finish();
    }

    /// <summary>
    /// The SNI listener with every tenant's chain (none: the shell its version is computed from), assembled from the
    /// chains' encodings: <c>filter_chains</c> (3) comes after <c>name</c> (1) and <c>address</c> (2) and before
    /// <c>listener_filters</c> (9), the only other field.
    /// </summary>
    public static ByteString SniListenerBytes(SeedSettings seed, IReadOnlyList<HashedPart<FilterChain>> chains)
    {
        // Written into a buffer of the exact size (the shell's and every chain's): at 10,000 tenants the listener
        // is megabytes, which a growing buffer would copy several times.
        var size = 0;
        if (chains.Count > 0)
        {
            size = SniListenerBytes(seed, []).Length;
            foreach (var chain in chains)
            {
                size += ProtoWriter.LengthDelimitedSize(Listener.FilterChainsFieldNumber, chain.Bytes.Length);
            }
        }
        var writer = (size > 0 ? ProtoWriter.StartSized(size) : ProtoWriter.Start()).String(Listener.NameFieldNumber, EnvoyNames.SniListener);
        TenantCompiler.WriteSocketAddress(writer, Listener.AddressFieldNumber, "0.0.0.0", seed.SniPort);
        foreach (var chain in chains)
        {
            writer.Message(Listener.FilterChainsFieldNumber, chain.Bytes.Span);
        }
        if (seed.ProxyProtocol)
        {
            writer.Message(Listener.ListenerFiltersFieldNumber, SeedEncodings.For(seed).ProxyProtocolFilter!.Span);
        }
        // TLS inspector must be enabled explicitly (Envoy ≥ 1.17) for server_names to match.
        return writer.Begin(Listener.ListenerFiltersFieldNumber)
            .String(ListenerFilter.NameFieldNumber, EnvoyNames.TlsInspector)
            .EmptyAny(ListenerFilter.TypedConfigFieldNumber, TypeUrl(TlsInspector.Descriptor))
            .End()
            .Finish();
    }

    /// <summary>
    /// The tunneling listener: one HCM for every tenant's CONNECT traffic, routing by scope. The scope key is
    /// the second label of the CONNECT authority (<c>&lt;svc&gt;.cluster-&lt;id&gt;.svc.cluster.local:&lt;port&gt;</c>),
    /// the tenant's namespace; each scope names that tenant's own RouteConfiguration, fetched by RDS. The scopes
    /// themselves are <c>ScopedRouteConfiguration</c> resources fetched by SRDS (every scope of the seed's config
    /// source: Envoy subscribes as a wildcard), not a list in the listener: tenants coming and going change the
    /// SRDS set and never this listener, so Envoy never drains its only filter chain (every tenant's tunnels)
    /// for them. One tenant's allowlist change re-sends its own small RouteConfiguration. The listener depends
    /// on the seed alone.
    /// </summary>
    public static ByteString TunnelingListener(SeedSettings seed)
    {
        var configSource = SeedEncodings.For(seed).ConfigSource.Span;
        var writer = ProtoWriter.Start().String(Listener.NameFieldNumber, EnvoyNames.TunnelingListener);
        TenantCompiler.WriteSocketAddress(writer, Listener.AddressFieldNumber, "0.0.0.0", seed.TunnelingPort);
        writer.Begin(Listener.FilterChainsFieldNumber)
            .Begin(FilterChain.FiltersFieldNumber)
            .String(Filter.NameFieldNumber, EnvoyNames.HttpConnectionManager)
            .BeginAny(Filter.TypedConfigFieldNumber, TypeUrl(HttpConnectionManager.Descriptor))
            // codec_type: AUTO is 0, left out
            .String(HttpConnectionManager.StatPrefixFieldNumber, EnvoyNames.HttpStatPrefix)
            // The base HTTP RBAC filter: no rules, so only virtual hosts with an override are restricted.
            .Begin(HttpConnectionManager.HttpFiltersFieldNumber)
            .String(HttpFilter.NameFieldNumber, EnvoyNames.HttpRbac)
            .EmptyAny(HttpFilter.TypedConfigFieldNumber, TypeUrl(HttpRbac.Descriptor))
            .End();
        WriteRouter(writer);
        writer.Begin(HttpConnectionManager.Http2ProtocolOptionsFieldNumber)
            .Bool(Http2ProtocolOptions.AllowConnectFieldNumber, true)
            .End()
            // The client address for RBAC is the connection's (after PROXY protocol), never a header a
            // client can write: X-Forwarded-For is not trusted (xff_num_trusted_hops 0, left out).
            .BoolValue(HttpConnectionManager.UseRemoteAddressFieldNumber, true)
            .Begin(HttpConnectionManager.UpgradeConfigsFieldNumber)
            .String(HttpConnectionManager.Types.UpgradeConfig.UpgradeTypeFieldNumber, EnvoyNames.ConnectUpgrade)
            .End()
            .Begin(HttpConnectionManager.ScopedRoutesFieldNumber)
            .String(ScopedRoutes.NameFieldNumber, EnvoyNames.TunnelingScopes)
            .Begin(ScopedRoutes.ScopeKeyBuilderFieldNumber)
            .Begin(ScopedRoutes.Types.ScopeKeyBuilder.FragmentsFieldNumber)
            .Begin(ScopedRoutes.Types.ScopeKeyBuilder.Types.FragmentBuilder.HeaderValueExtractorFieldNumber)
            .String(ScopedRoutes.Types.ScopeKeyBuilder.Types.FragmentBuilder.Types.HeaderValueExtractor.NameFieldNumber, ":authority")
            .String(ScopedRoutes.Types.ScopeKeyBuilder.Types.FragmentBuilder.Types.HeaderValueExtractor.ElementSeparatorFieldNumber, ".")
            .UInt32Oneof(ScopedRoutes.Types.ScopeKeyBuilder.Types.FragmentBuilder.Types.HeaderValueExtractor.IndexFieldNumber, 1)
            .End().End().End()
            .Message(ScopedRoutes.RdsConfigSourceFieldNumber, configSource)
            .Begin(ScopedRoutes.ScopedRdsFieldNumber).Message(ScopedRds.ScopedRdsConfigSourceFieldNumber, configSource).End()
            .End() // scoped_routes
            .EndAny()
            .End() // filter
            .End(); // filter chain
        if (seed.ProxyProtocol)
        {
            writer.Message(Listener.ListenerFiltersFieldNumber, SeedEncodings.For(seed).ProxyProtocolFilter!.Span);
        }
        return writer.Finish();
    }

    private static string TypeUrl(MessageDescriptor descriptor) => ProtoBytes.TypeUrlOf(descriptor);
}
