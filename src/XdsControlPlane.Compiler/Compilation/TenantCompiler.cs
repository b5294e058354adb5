using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;
using Filter = Envoy.Config.Listener.V3.Filter;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>Compiles one tenant: pure, and independent of every other tenant except for the SNI hostnames it lost.</summary>
internal static class TenantCompiler
{
    /// <param name="lostSniPorts">"ns/svc-port" keys whose SNI hostname another, older Service holds.</param>
    /// <param name="previous">The tenant's artifacts from the previous compilation, if any: the revocation generation follows from them.</param>
    /// <param name="drainRevocations">False to defer a narrowing's drain (see <see cref="Revocation.Next"/>).</param>
    /// <param name="lostNodePorts">"ns/svc-port" keys whose node port another, older Service holds.</param>
    public static TenantArtifacts Compile(Tenant tenant, SeedSettings seed, IReadOnlySet<string> lostSniPorts, string conflictKey,
        TenantArtifacts? previous = null, bool drainRevocations = true, IReadOnlySet<string>? lostNodePorts = null)
    {
        var decision = AllowlistDecision.Decide(tenant, seed);
        var admission = Admission.Of(decision, seed);
        var ecds = seed.RbacDelivery == RbacDelivery.Ecds;
        var streamCap = ConnectionCap(admission, seed);
        var tcpCap = TcpCap(admission, seed);
        // A cap added or removed changes the tenant's tcp_proxy, hence its chains: Envoy drains them with this push
        // whatever the filter's name. A drain owed is then paid now (renamed at once) rather than cutting the
        // connections opened in between a second time when it falls due.
        var chainsChangeAnyway = previous is not null && TcpCap(previous.Admission, previous.Seed) != tcpCap;
        var (generation, owed) = ecds
            ? Revocation.Next(previous?.RevocationGeneration, previous?.Admission, admission, previous?.RevocationOwed == true,
                drainRevocations || chainsChangeAnyway)
            : ("", false);
        var clusters = new List<EnvoyResource>();
        var endpoints = new List<EnvoyResource>();
        var listeners = new List<EnvoyResource>();
        var chains = new List<HashedPart<FilterChain>>();
        var tunneled = new List<(string Namespace, string Key, string Authority)>();
        // The ports the proxy exposes, each with its "ns/svc-port" key and whether it keeps its SNI hostname and
        // its node port (not one of the seed's own listener ports, not held by an older Service).
        var exposed = new List<(ExposedService Service, ExposedPort Port, string Key, bool ViaSni, bool ViaNodePort)>(tenant.Services.Sum(s => s.Ports.Count));
        var diagnostics = new List<Diagnostic>(0);
        foreach (var service in tenant.Services)
        {
            foreach (var port in service.Ports)
            {
                var key = EnvoyNames.ServicePortKey(service.Namespace, service.Name, port.Name);
                var viaSni = port.SniHostname is not null && !lostSniPorts.Contains(key);
                var viaNodePort = port.ViaNodePort && lostNodePorts?.Contains(key) != true;
                if (viaNodePort && IsReservedPort(port.NodePort, seed))
                {
                    viaNodePort = false;
                    diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "NodePortReserved", $"Service/{service.Key}",
                        $"spec.ports[name='{port.Name}'].nodePort",
                        $"node port {port.NodePort} is a port of the proxy's own listeners (SNI {seed.SniPort}, tunneling {seed.TunnelingPort}, " +
                        $"stats {seed.StatsPort}, admin {seed.AdminPort}); this port gets no NodePort listener until it is changed", tenant.Id));
                }
                if (viaNodePort || viaSni || port.ViaTunneling)
                {
                    exposed.Add((service, port, key, viaSni, viaNodePort));
                }
            }
        }
        // Build only the RBAC variants this tenant's ports use (a NodePort tenant needs no SNI or HTTP RBAC),
        // and each once: every chain, listener and virtual host of the tenant shares the same encoded config.
        var encodings = SeedEncodings.For(seed);
        var body = RbacConfigs.Body(tenant.Id, decision, seed);
        var sniRbac = exposed.Any(x => x.ViaSni) ? RbacFilter(tenant.Id, "sni", body, seed, encodings, generation) : null;
        var nodePortRbac = exposed.Any(x => x.ViaNodePort) ? RbacFilter(tenant.Id, "nodeport", body, seed, encodings, generation) : null;

        foreach (var (service, port, key, viaSni, viaNodePort) in exposed)
        {
            clusters.Add(EnvoyResource.FromBytes(key, Envoy.Config.Cluster.V3.Cluster.Descriptor, ClusterBytes(key, seed)));
            endpoints.Add(EnvoyResource.FromBytes(key, ClusterLoadAssignment.Descriptor, LoadAssignmentBytes(key, port)));
            if (viaNodePort)
            {
                listeners.Add(EnvoyResource.FromBytes(key, Listener.Descriptor,
                    NodePortListener(key, port.NodePort, nodePortRbac?.Filter, encodings, tcpCap)));
            }
            if (viaSni)
            {
                chains.Add(HashedPart<FilterChain>.FromBytes(key, SniChain(key, port.SniHostname!, sniRbac?.Filter, tcpCap)));
            }
            if (port.ViaTunneling)
            {
                tunneled.Add((service.Namespace, key, EnvoyNames.TunnelingAuthority(service.Namespace, service.Name, port.Port)));
            }
        }
        var extensionConfigs = new List<EnvoyResource>();
        if (sniRbac?.Extension is { } sniExtension)
        {
            extensionConfigs.Add(sniExtension);
        }
        if (nodePortRbac?.Extension is { } nodePortExtension)
        {
            extensionConfigs.Add(nodePortExtension);
        }
        // One RouteConfiguration and one scope per namespace (a tenant has one): the scope key is the namespace
        // label of the CONNECT authority, so an authority only ever reaches its own namespace's virtual hosts.
        var routes = new List<EnvoyResource>();
        var scopes = new List<EnvoyResource>();
        foreach (var ns in tunneled.Select(t => t.Namespace).Distinct(StringComparer.Ordinal))
        {
            var name = EnvoyNames.TunnelingRouteFor(ns);
            var routeConfiguration = ProtoWriter.Start().String(RouteConfiguration.NameFieldNumber, name);
            foreach (var (_, key, authority) in tunneled.Where(t => t.Namespace == ns))
            {
                WriteTunnelingVirtualHost(routeConfiguration, tenant.Id, key, authority, body, streamCap);
            }
            routes.Add(EnvoyResource.FromBytes(name, RouteConfiguration.Descriptor, routeConfiguration.Finish()));
            scopes.Add(EnvoyResource.FromBytes(name, ScopedRouteConfiguration.Descriptor, ProtoWriter.Start()
                .String(ScopedRouteConfiguration.NameFieldNumber, name)
                .String(ScopedRouteConfiguration.RouteConfigurationNameFieldNumber, name)
                .Begin(ScopedRouteConfiguration.KeyFieldNumber)
                .Begin(ScopedRouteConfiguration.Types.Key.FragmentsFieldNumber)
                .StringOneof(ScopedRouteConfiguration.Types.Key.Types.Fragment.StringKeyFieldNumber, ns)
                .End().End()
                .Finish()));
        }
        return new TenantArtifacts(tenant, seed, conflictKey, decision, clusters, endpoints, listeners, chains, routes)
        {
            Diagnostics = [.. diagnostics, .. ReportDecision(tenant, decision, seed)],
            TunnelingScopes = scopes,
            SniHostnames = [.. exposed.Where(x => x.ViaSni).Select(x => x.Port.SniHostname!)],
            NodePorts = [.. exposed.Where(x => x.ViaNodePort).Select(x => x.Port.NodePort)],
            TunnelingAuthorities = [.. tunneled.Select(t => t.Authority)],
            ExtensionConfigs = extensionConfigs,
            Admission = admission,
            RevocationGeneration = generation,
            RevocationOwed = owed,
        };
    }

    /// <summary>
    /// The cap on the life of a tenant's tunneled (CONNECT) streams, or null for none. Only a tenant whose served
    /// RBAC restricts who may connect has one: without a list (no RBAC, dry run, not enforceable and served open)
    /// nothing is ever revoked, so its connections live as long as under envoy-manager. With one, it is the bound on
    /// how long a tunnel opened before a narrowing survives it: an RDS change reaches new streams only, and the
    /// tunneling listener (every tenant's tunnels) is never drained for one tenant. Both delivery modes.
    /// </summary>
    public static TimeSpan? ConnectionCap(Admission admission, SeedSettings seed) =>
        !admission.Everything && seed.MaxConnectionDuration > TimeSpan.Zero ? seed.MaxConnectionDuration : null;

    /// <summary>
    /// The cap on a tenant's TCP connections (<c>tcp_proxy</c> of its SNI chains and NodePort listeners), or null.
    /// ECDS only, and only with a restricting RBAC (<see cref="ConnectionCap"/>): it backs up the generation rename,
    /// which misses one case (a restart across a narrowing whose fresh generation equals the one served, see
    /// <see cref="Revocation"/>). Inline delivery needs none: the RBAC is in the chain, so any change of the
    /// list changes the chain and Envoy drains it, after a restart too.
    /// </summary>
    public static TimeSpan? TcpCap(Admission admission, SeedSettings seed) =>
        seed.RbacDelivery == RbacDelivery.Ecds ? ConnectionCap(admission, seed) : null;

    /// <summary>A port the proxy's own listeners use (SNI, tunneling, stats, admin): a node port listener there could not bind.</summary>
    public static bool IsReservedPort(int port, SeedSettings seed) =>
        port == seed.SniPort || port == seed.TunnelingPort || port == seed.StatsPort || port == seed.AdminPort;

    /// <summary>
    /// A tenant port's upstream cluster: <c>Cluster { name; type: EDS; eds_cluster_config: { eds_config: the seed's
    /// config source }; connect_timeout: 1s; lb_policy: ROUND_ROBIN (0, left out) }</c> (envoy-manager's, but EDS).
    /// Written field by field (30,000 cluster messages at 10,000 tenants were a tenth of what a full compile
    /// allocated): the name, then the fields after it, which are the same for every cluster of the seed and written
    /// once per seed (<see cref="SeedEncodings.ClusterTail"/>).
    /// </summary>
    public static ByteString ClusterBytes(string key, SeedSettings seed) => ProtoWriter.Start()
        .String(Envoy.Config.Cluster.V3.Cluster.NameFieldNumber, key)
        .Raw(SeedEncodings.For(seed).ClusterTail.Span)
        .Finish();

    /// <summary>
    /// A port's endpoints, one <c>LocalityLbEndpoints</c> per zone (<c>locality: { zone }</c>; the model sorts
    /// endpoints by zone, so a zone's are adjacent and the output is sorted), written field by field: five messages
    /// per endpoint (each with its eager collections) were a tenth of a full compile's allocations, for bytes only.
    /// </summary>
    /// <remarks>
    /// Every group carries a <c>locality</c>, even for endpoints whose slice names no zone (an empty
    /// <c>locality: {}</c>, a locality of its own, never merged with a named zone): gRPC's xDS client rejects an
    /// assignment with a group that has none. Each group's <c>load_balancing_weight</c> is its endpoint count: gRPC
    /// ignores a locality without a weight, and with weights in proportion to the endpoints, locality-weighted picking
    /// spreads load as round robin over all endpoints does. Envoy reads the weights only with
    /// <c>locality_weighted_lb_config</c>; zone-aware routing needs the zones alone. No endpoints: no group at all.
    /// </remarks>
    public static ByteString LoadAssignmentBytes(string key, ExposedPort port)
    {
        var writer = ProtoWriter.Start().String(ClusterLoadAssignment.ClusterNameFieldNumber, key);
        IReadOnlyList<UpstreamEndpoint> endpoints = port.Endpoints;
        if (!GroupedByZone(endpoints))
        {
            // The translator sorts by zone; a model built elsewhere must not yield one zone twice (gRPC refuses that).
            endpoints = [.. endpoints.OrderBy(e => e.Zone, StringComparer.Ordinal).ThenBy(e => e.Address, StringComparer.Ordinal).ThenBy(e => e.Port)];
        }
        for (var start = 0; start < endpoints.Count;)
        {
            var zone = endpoints[start].Zone;
            var end = start + 1;
            while (end < endpoints.Count && endpoints[end].Zone == zone)
            {
                end++;
            }
            writer.Begin(ClusterLoadAssignment.EndpointsFieldNumber)
                .Begin(LocalityLbEndpoints.LocalityFieldNumber).String(Locality.ZoneFieldNumber, zone).End();
            for (var i = start; i < end; i++)
            {
                writer.Begin(LocalityLbEndpoints.LbEndpointsFieldNumber).Begin(LbEndpoint.EndpointFieldNumber);
                WriteSocketAddress(writer, Endpoint.AddressFieldNumber, endpoints[i].Address, endpoints[i].Port);
                writer.End().End();
            }
            writer.UInt32Value(LocalityLbEndpoints.LoadBalancingWeightFieldNumber, (uint)(end - start))
                .End();
            start = end;
        }
        return writer.Finish();
    }

    private static bool GroupedByZone(IReadOnlyList<UpstreamEndpoint> endpoints)
    {
        for (var i = 1; i < endpoints.Count; i++)
        {
            if (string.CompareOrdinal(endpoints[i - 1].Zone, endpoints[i].Zone) > 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// The tenant's network RBAC filter for one path, encoded. Inline: the config in the filter (none when the
    /// decision serves no filter). ECDS: always a filter, naming a TypedExtensionConfig that holds the config (a
    /// no-rules RBAC, which enforces nothing, when the decision serves no filter), so that adding, editing or
    /// removing a list later needs no listener change except a narrowing's rename.
    /// </summary>
    private static (ByteString Filter, EnvoyResource? Extension)? RbacFilter(string tenantId, string path, RbacBody? body,
        SeedSettings seed, SeedEncodings encodings, string generation)
    {
        if (seed.RbacDelivery == RbacDelivery.Inline)
        {
            if (body is null)
            {
                return null;
            }
            var inline = ProtoWriter.Start()
                .String(Filter.NameFieldNumber, EnvoyNames.NetworkRbac)
                .BeginAny(Filter.TypedConfigFieldNumber, EnvoyNames.NetworkRbacTypeUrl);
            return (RbacConfigs.WriteNetwork(inline, tenantId, path, body).EndAny().Finish(), null);
        }
        var name = EnvoyNames.EcdsRbac(tenantId, path, generation);
        var filter = ProtoWriter.Start()
            .String(Filter.NameFieldNumber, name)
            .Begin(Filter.ConfigDiscoveryFieldNumber)
            .Message(ExtensionConfigSource.ConfigSourceFieldNumber, encodings.ConfigSource.Span)
            // Warm: the listener waits for the config (it is in the same snapshot). Only if ECDS fails within
            // initial_fetch_timeout does the default apply, and it fails closed, counted under the tenant's own
            // stat prefix. It depends on tenant and path only, never on the list. (apply_default_config_without_warming
            // is false: left out.)
            .BeginAny(ExtensionConfigSource.DefaultConfigFieldNumber, EnvoyNames.NetworkRbacTypeUrl);
        RbacConfigs.WriteNetworkDenyAll(filter, tenantId, path)
            .EndAny()
            .RepeatedString(ExtensionConfigSource.TypeUrlsFieldNumber, EnvoyNames.NetworkRbacTypeUrl)
            .End();
        // With no list, a config without rules: it enforces nothing.
        var extension = ProtoWriter.Start()
            .String(TypedExtensionConfig.NameFieldNumber, name)
            .BeginAny(TypedExtensionConfig.TypedConfigFieldNumber, EnvoyNames.NetworkRbacTypeUrl);
        RbacConfigs.WriteNetwork(extension, tenantId, path, body).EndAny();
        return (filter.Finish(), EnvoyResource.FromBytes(name, TypedExtensionConfig.Descriptor, extension.Finish()));
    }

    /// <summary><c>Listener { name; address: 0.0.0.0:nodePort; filter_chains: [{ filters }]; listener_filters: [PROXY]? }</c>.</summary>
    private static ByteString NodePortListener(string key, int nodePort, ByteString? rbac, SeedEncodings encodings, TimeSpan? maxDuration)
    {
        var writer = ProtoWriter.Start().String(Listener.NameFieldNumber, key);
        WriteSocketAddress(writer, Listener.AddressFieldNumber, "0.0.0.0", nodePort);
        writer.Begin(Listener.FilterChainsFieldNumber);
        WriteFilters(writer, key, rbac, maxDuration);
        writer.End();
        if (encodings.ProxyProtocolFilter is { } proxyProtocol)
        {
            writer.Message(Listener.ListenerFiltersFieldNumber, proxyProtocol.Span);
        }
        return writer.Finish();
    }

    /// <summary><c>FilterChain { filter_chain_match: { transport_protocol: tls; server_names: [hostname] }; filters; name }</c>.</summary>
    private static ByteString SniChain(string key, string hostname, ByteString? rbac, TimeSpan? maxDuration)
    {
        var writer = ProtoWriter.Start()
            .Begin(FilterChain.FilterChainMatchFieldNumber)
            .String(FilterChainMatch.TransportProtocolFieldNumber, "tls")
            .RepeatedString(FilterChainMatch.ServerNamesFieldNumber, hostname)
            .End();
        WriteFilters(writer, key, rbac, maxDuration);
        return writer.String(FilterChain.NameFieldNumber, key).Finish();
    }

    /// <summary>RBAC first, so a denied connection never reaches <c>tcp_proxy</c> (no upstream connection is opened).</summary>
    private static void WriteFilters(ProtoWriter writer, string cluster, ByteString? rbac, TimeSpan? maxDuration)
    {
        if (rbac is not null)
        {
            writer.Message(FilterChain.FiltersFieldNumber, rbac.Span);
        }
        writer.Begin(FilterChain.FiltersFieldNumber)
            .String(Filter.NameFieldNumber, EnvoyNames.TcpProxy)
            .BeginAny(Filter.TypedConfigFieldNumber, TcpProxyTypeUrl)
            .String(TcpProxy.StatPrefixFieldNumber, EnvoyNames.TcpStatPrefix)
            .StringOneof(TcpProxy.ClusterFieldNumber, cluster);
        if (maxDuration is { } max)
        {
            writer.Duration(TcpProxy.MaxDownstreamConnectionDurationFieldNumber, max);
        }
        writer.EndAny().End();
    }

    private static readonly string TcpProxyTypeUrl = ProtoBytes.TypeUrlOf(TcpProxy.Descriptor);

    private static readonly string HttpRbacPerRouteTypeUrl = ProtoBytes.TypeUrlOf(Envoy.Extensions.Filters.Http.Rbac.V3.RBACPerRoute.Descriptor);

    /// <summary><c>Address { socket_address: { protocol: TCP (0, left out); address; port_value } }</c>.</summary>
    internal static void WriteSocketAddress(ProtoWriter writer, int field, string address, int port) => writer
        .Begin(field)
        .Begin(Address.SocketAddressFieldNumber)
        .String(Envoy.Config.Core.V3.SocketAddress.AddressFieldNumber, address)
        // port_value is a oneof member (port_specifier)
        .UInt32Oneof(Envoy.Config.Core.V3.SocketAddress.PortValueFieldNumber, (uint)port)
        .End()
        .End();

    /// <summary>
    /// Writes <c>VirtualHost { name; domains: [authority]; routes: [{ match: { connect_matcher }; route: { cluster;
    /// upgrade_configs: [{ CONNECT, connect_config }]; max_stream_duration? } }]; typed_per_filter_config: { http rbac }? }</c>.
    /// </summary>
    /// <remarks>
    /// A tenant with a restricting RBAC has its CONNECT route capped (<c>max_stream_duration</c>, <see cref="ConnectionCap"/>):
    /// a route change reaches new streams only, so a tunnel opened before a narrowing ends within the cap at the latest.
    /// Without one the route is envoy-manager's, byte for byte.
    /// </remarks>
    private static void WriteTunnelingVirtualHost(ProtoWriter writer, string tenantId, string key, string authority, RbacBody? rbac,
        TimeSpan? maxDuration)
    {
        writer.Begin(RouteConfiguration.VirtualHostsFieldNumber)
            .String(VirtualHost.NameFieldNumber, key)
            .RepeatedString(VirtualHost.DomainsFieldNumber, authority)
            .Begin(VirtualHost.RoutesFieldNumber)
            .Begin(Route.MatchFieldNumber).Begin(RouteMatch.ConnectMatcherFieldNumber).End().End()
            .Begin(Route.Route_FieldNumber)
            .StringOneof(RouteAction.ClusterFieldNumber, key)
            .Begin(RouteAction.UpgradeConfigsFieldNumber)
            .String(RouteAction.Types.UpgradeConfig.UpgradeTypeFieldNumber, EnvoyNames.ConnectUpgrade)
            .Begin(RouteAction.Types.UpgradeConfig.ConnectConfigFieldNumber).End()
            .End();
        if (maxDuration is { } max)
        {
            writer.Begin(RouteAction.MaxStreamDurationFieldNumber)
                .Duration(RouteAction.Types.MaxStreamDuration.MaxStreamDuration_FieldNumber, max)
                .End();
        }
        writer.End().End();
        if (rbac is not null)
        {
            writer.Begin(VirtualHost.TypedPerFilterConfigFieldNumber) // a map<string, Any> entry
                .String(ProtoWriter.MapKeyFieldNumber, EnvoyNames.HttpRbac)
                .BeginAny(ProtoWriter.MapValueFieldNumber, HttpRbacPerRouteTypeUrl);
            RbacConfigs.WriteHttp(writer, tenantId, rbac).EndAny().End();
        }
        writer.End();
    }

    private static IReadOnlyList<Diagnostic> ReportDecision(Tenant tenant, AllowlistDecision decision, SeedSettings seed)
    {
        var diagnostics = new List<Diagnostic>(0);
        // Every served tenant has its Cluster object: Services without one are never served (ClusterMissing).
        var obj = $"Cluster/{tenant.Id}";
        switch (decision.Enforcement)
        {
            case Enforcement.NotEnforceableOpen:
                diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "AllowlistNotEnforced", obj,
                    "spec.apiServerAllowedIPRanges", decision.Reason, tenant.Id));
                break;
            case Enforcement.NotEnforceableDenyAll:
                diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "AllowlistDenyAll", obj,
                    "spec.apiServerAllowedIPRanges", decision.Reason, tenant.Id));
                break;
            case Enforcement.EnforcedProxyProtocol or Enforcement.DryRun when decision.ListsLoadBalancer(seed):
                // No longer a bypass (a connection from the load balancer is judged by its PROXY header alone), but
                // the operator should know what such a list admits.
                diagnostics.Add(new Diagnostic(DiagnosticSeverity.Info, "AllowlistContainsLoadBalancer", obj,
                    "spec.apiServerAllowedIPRanges",
                    "the list includes addresses of the trusted load balancer (proxy-protocol-trusted-ranges): clients it relays are " +
                    "still judged by their PROXY header alone, but header-less connections from the load balancer itself are admitted",
                    tenant.Id));
                break;
        }
        return diagnostics;
    }

    internal static TenantReport Report(TenantArtifacts artifacts)
    {
        var tenant = artifacts.Tenant;
        return new TenantReport(
            tenant.Id,
            tenant.Strategy,
            artifacts.Decision.Enforcement,
            artifacts.Decision.Form,
            artifacts.Decision.Reason,
            artifacts.Decision.EffectiveRanges.Normalized.Select(r => r.ToString()).ToList(),
            artifacts.SniHostnames,
            artifacts.NodePorts,
            artifacts.TunnelingAuthorities,
            ServingLastGood: false)
        {
            Ranges = artifacts.Decision.EffectiveRanges,
        };
    }
}
