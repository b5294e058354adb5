using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Filter = Envoy.Config.Listener.V3.Filter;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// A part of a shared listener (a chain of the SNI listener, a scope of the tunneling listener): its encoding,
/// kept instead of its message graph, and the content hash of that encoding.
/// </summary>
public sealed record HashedPart<T>(string Name, ByteString Bytes, string Hash)
    where T : IMessage<T>, new()
{
    private static readonly MessageParser<T> Parser = new(() => new T());

    /// <summary>This part's share of its listener's running digest (see <see cref="PartsTally"/>).</summary>
    public UInt128 Digest { get; } = ContentHash.EntryDigest(Name, Hash);

    /// <summary>A fresh copy of the part, parsed from its bytes.</summary>
    public T Message => Parser.ParseFrom(Bytes);

    public static HashedPart<T> Of(string name, T message)
    {
        var bytes = ProtoBytes.Serialize(message);
        return new(name, bytes, ContentHash.Of(bytes.Span));
    }
}

/// <summary>Everything one tenant contributes to a snapshot, compiled once and reused while the tenant is unchanged.</summary>
public sealed record TenantArtifacts(
    Tenant Tenant,
    SeedSettings Seed,
    string ConflictKey,
    AllowlistDecision Decision,
    IReadOnlyList<EnvoyResource> Clusters,
    IReadOnlyList<EnvoyResource> Endpoints,
    IReadOnlyList<EnvoyResource> NodePortListeners,
    IReadOnlyList<HashedPart<FilterChain>> SniChains,
    IReadOnlyList<EnvoyResource> TunnelingRoutes)
{
    /// <summary>The tunneling scopes (one per namespace with CONNECT ports) that map an authority to <see cref="TunnelingRoutes"/>.</summary>
    public IReadOnlyList<HashedPart<ScopedRouteConfiguration>> TunnelingScopes { get; init; } = [];

    /// <summary>The SNI hostnames the tenant's chains match, in port order.</summary>
    public IReadOnlyList<string> SniHostnames { get; init; } = [];

    /// <summary>The CONNECT authorities the tenant's virtual hosts answer, in port order.</summary>
    public IReadOnlyList<string> TunnelingAuthorities { get; init; } = [];

    private TenantReport? _report;

    /// <summary>Built on first use (the debug endpoint), not on every compile: formatting every range of 10,000 tenants is not free.</summary>
    public TenantReport Report => _report ??= TenantCompiler.Report(this);

    /// <summary>ECDS delivery: the tenant's RBAC filter configs (one per path it uses), named as its filters.</summary>
    public IReadOnlyList<EnvoyResource> ExtensionConfigs { get; init; } = [];

    /// <summary>The addresses the served RBAC admits, to tell narrowing from widening at the next compile.</summary>
    public Admission Admission { get; init; } = null!;

    /// <summary>ECDS delivery: the revocation generation in the filter names (see <see cref="Revocation"/>); empty inline.</summary>
    public string RevocationGeneration { get; init; } = "";

    /// <summary>ECDS delivery: a narrowing was served under the old generation and its drain (the rename) is still owed.</summary>
    public bool RevocationOwed { get; init; }

    public IReadOnlyList<Diagnostic> Diagnostics { get; init; } = [];
}

/// <summary>Compiles one tenant: pure, and independent of every other tenant except for the SNI hostnames it lost.</summary>
public static class TenantCompiler
{
    /// <param name="lostSniPorts">"ns/svc-port" keys whose SNI hostname another, older Service holds.</param>
    /// <param name="previous">The tenant's artifacts from the previous compilation, if any: the revocation generation follows from them.</param>
    /// <param name="drainRevocations">False to defer a narrowing's drain (see <see cref="Revocation.Next"/>).</param>
    public static TenantArtifacts Compile(Tenant tenant, SeedSettings seed, IReadOnlySet<string> lostSniPorts, string conflictKey,
        TenantArtifacts? previous = null, bool drainRevocations = true)
    {
        var decision = AllowlistDecision.Decide(tenant, seed);
        var admission = Admission.Of(decision, seed);
        var ecds = seed.RbacDelivery == RbacDelivery.Ecds;
        var (generation, owed) = ecds
            ? Revocation.Next(previous?.RevocationGeneration, previous?.Admission, admission, previous?.RevocationOwed == true, drainRevocations)
            : ("", false);
        var clusters = new List<EnvoyResource>();
        var endpoints = new List<EnvoyResource>();
        var listeners = new List<EnvoyResource>();
        var chains = new List<HashedPart<FilterChain>>();
        var vhosts = new List<(string Namespace, VirtualHost Host)>();
        // The ports the proxy exposes, each with its "ns/svc-port" key and whether it keeps its SNI hostname.
        var exposed = new List<(ExposedService Service, ExposedPort Port, string Key, bool ViaSni)>(tenant.Services.Sum(s => s.Ports.Count));
        foreach (var service in tenant.Services)
        {
            foreach (var port in service.Ports)
            {
                var key = EnvoyNames.ServicePortKey(service.Namespace, service.Name, port.Name);
                var viaSni = port.SniHostname is not null && !lostSniPorts.Contains(key);
                if (port.ViaNodePort || viaSni || port.ViaTunneling)
                {
                    exposed.Add((service, port, key, viaSni));
                }
            }
        }
        // Build only the RBAC variants this tenant's ports use (a NodePort tenant needs no SNI or HTTP RBAC),
        // and each once: every chain, listener and virtual host of the tenant shares the same packed config.
        var body = RbacConfigs.Body(tenant.Id, decision, seed);
        var sniRbac = exposed.Any(x => x.ViaSni) ? RbacFilter(tenant.Id, "sni", body, seed, generation) : null;
        var nodePortRbac = exposed.Any(x => x.Port.ViaNodePort) ? RbacFilter(tenant.Id, "nodeport", body, seed, generation) : null;
        var tunnelRbac = exposed.Any(x => x.Port.ViaTunneling) && RbacConfigs.Http(tenant.Id, body) is { } perRoute ? ProtoBytes.Pack(perRoute) : null;
        // With ECDS the tcp_proxy carries the hard cap on a connection's life (see SeedSettings.MaxConnectionDuration).
        var maxDuration = ecds && seed.MaxConnectionDuration > TimeSpan.Zero ? seed.MaxConnectionDuration : (TimeSpan?)null;

        foreach (var (service, port, key, viaSni) in exposed)
        {
            clusters.Add(EnvoyResource.FromBytes(key, Envoy.Config.Cluster.V3.Cluster.Descriptor, ClusterBytes(key, seed)));
            endpoints.Add(EnvoyResource.FromBytes(key, ClusterLoadAssignment.Descriptor, LoadAssignmentBytes(key, port)));
            if (port.ViaNodePort)
            {
                listeners.Add(new EnvoyResource(key, NodePortListener(key, port.NodePort, nodePortRbac?.Filter, seed, maxDuration)));
            }
            if (viaSni)
            {
                chains.Add(HashedPart<FilterChain>.Of(key, SniChain(key, port.SniHostname!, sniRbac?.Filter, maxDuration)));
            }
            if (port.ViaTunneling)
            {
                vhosts.Add((service.Namespace, TunnelingVirtualHost(key, service, port, tunnelRbac, maxDuration)));
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
        var scopes = new List<HashedPart<ScopedRouteConfiguration>>();
        foreach (var group in vhosts.GroupBy(v => v.Namespace, StringComparer.Ordinal))
        {
            var name = EnvoyNames.TunnelingRouteFor(group.Key);
            var routeConfiguration = new RouteConfiguration { Name = name };
            routeConfiguration.VirtualHosts.AddRange(group.Select(v => v.Host));
            routes.Add(new EnvoyResource(name, routeConfiguration));
            scopes.Add(HashedPart<ScopedRouteConfiguration>.Of(name, new ScopedRouteConfiguration
            {
                Name = name,
                RouteConfigurationName = name,
                Key = new ScopedRouteConfiguration.Types.Key
                {
                    Fragments = { new ScopedRouteConfiguration.Types.Key.Types.Fragment { StringKey = group.Key } },
                },
            }));
        }
        return new TenantArtifacts(tenant, seed, conflictKey, decision, clusters, endpoints, listeners, chains, routes)
        {
            Diagnostics = ReportDecision(tenant, decision, seed),
            TunnelingScopes = scopes,
            SniHostnames = [.. exposed.Where(x => x.ViaSni).Select(x => x.Port.SniHostname!)],
            TunnelingAuthorities = [.. vhosts.Select(v => v.Host.Domains[0])],
            ExtensionConfigs = extensionConfigs,
            Admission = admission,
            RevocationGeneration = generation,
            RevocationOwed = owed,
        };
    }

    public static ConfigSource ConfigSourceFor(SeedSettings seed) => seed.ConfigSource switch
    {
        ConfigSourceStyle.Grpc => new ConfigSource
        {
            ResourceApiVersion = ApiVersion.V3,
            ApiConfigSource = new ApiConfigSource
            {
                ApiType = ApiConfigSource.Types.ApiType.Grpc,
                TransportApiVersion = ApiVersion.V3,
                SetNodeOnFirstMessageOnly = true,
                GrpcServices = { new GrpcService { EnvoyGrpc = new GrpcService.Types.EnvoyGrpc { ClusterName = seed.XdsClusterName } } },
            },
        },
        _ => new ConfigSource { ResourceApiVersion = ApiVersion.V3, Ads = new AggregatedConfigSource() },
    };

    /// <summary>A tenant port's upstream cluster: EDS, round robin, 1 s connect timeout (envoy-manager's, but EDS).</summary>
    public static Cluster Cluster(string key, SeedSettings seed) => new()
    {
        Name = key,
        ConnectTimeout = new Duration { Seconds = 1 },
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
        LbPolicy = Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin,
        EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig { EdsConfig = ConfigSourceFor(seed) },
    };

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<SeedSettings, byte[]> ClusterTails = new();

    /// <summary>
    /// <see cref="Cluster"/>'s encoding without building it: clusters differ only in their name, which is field 1,
    /// so the canonical encoding is the name field followed by the same bytes for every cluster of the seed
    /// (30,000 cluster messages at 10,000 tenants were a tenth of what a full compile allocated). Byte-identical
    /// to serialising <see cref="Cluster"/> (a test holds it to that).
    /// </summary>
    public static ByteString ClusterBytes(string key, SeedSettings seed)
    {
        var tail = ClusterTails.GetValue(seed, s => Cluster("", s).ToByteArray());
        var bytes = new byte[ProtoBytes.StringFieldSize(key) + tail.Length];
        var output = new CodedOutputStream(bytes);
        ProtoBytes.WriteStringField(output, Envoy.Config.Cluster.V3.Cluster.NameFieldNumber, key);
        output.Flush();
        tail.CopyTo(bytes, (int)output.Position);
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>A port's endpoints: one locality with each ready address (the message; see <see cref="LoadAssignmentBytes"/>).</summary>
    public static ClusterLoadAssignment LoadAssignment(string key, ExposedPort port)
    {
        var locality = new LocalityLbEndpoints();
        foreach (var endpoint in port.Endpoints)
        {
            locality.LbEndpoints.Add(new LbEndpoint
            {
                Endpoint = new Endpoint { Address = SocketAddress(endpoint.Address, endpoint.Port) },
            });
        }
        var assignment = new ClusterLoadAssignment { ClusterName = key };
        assignment.Endpoints.Add(locality);
        return assignment;
    }

    /// <summary>
    /// <see cref="LoadAssignment"/>'s canonical encoding, written field by field: five messages per endpoint
    /// (each with its eager collections) were a tenth of a full compile's allocations, for bytes only.
    /// ClusterLoadAssignment{1: cluster_name, 2: LocalityLbEndpoints{2: LbEndpoint{1: Endpoint{1: Address{
    /// 1: SocketAddress{2: address, 3: port_value}}}}}} (protocol TCP is 0, the default: not written).
    /// Byte-identical to serialising the message (a test holds it to that).
    /// </summary>
    public static ByteString LoadAssignmentBytes(string key, ExposedPort port)
    {
        var count = port.Endpoints.Count;
        Span<int> socketSizes = count <= 64 ? stackalloc int[count] : new int[count];
        var localitySize = 0;
        for (var i = 0; i < count; i++)
        {
            var endpoint = port.Endpoints[i];
            var socket = ProtoBytes.StringFieldSize(endpoint.Address)
                + (endpoint.Port == 0 ? 0 : 1 + CodedOutputStream.ComputeUInt32Size((uint)endpoint.Port));
            socketSizes[i] = socket;
            // LbEndpoint ⊃ Endpoint ⊃ Address ⊃ SocketAddress
            localitySize += ProtoBytes.MessageFieldSize(ProtoBytes.MessageFieldSize(ProtoBytes.MessageFieldSize(ProtoBytes.MessageFieldSize(socket))));
        }
        var bytes = new byte[ProtoBytes.StringFieldSize(key) + ProtoBytes.MessageFieldSize(localitySize)];
        var output = new CodedOutputStream(bytes);
        ProtoBytes.WriteStringField(output, 1, key);
        ProtoBytes.WriteMessageHeader(output, 2, localitySize);
        for (var i = 0; i < count; i++)
        {
            var endpoint = port.Endpoints[i];
            var socket = socketSizes[i];
            var address = ProtoBytes.MessageFieldSize(socket);
            var endpointSize = ProtoBytes.MessageFieldSize(address);
            ProtoBytes.WriteMessageHeader(output, 2, ProtoBytes.MessageFieldSize(endpointSize)); // LocalityLbEndpoints.lb_endpoints
            ProtoBytes.WriteMessageHeader(output, 1, endpointSize);                               // LbEndpoint.endpoint
            ProtoBytes.WriteMessageHeader(output, 1, address);                                    // Endpoint.address
            ProtoBytes.WriteMessageHeader(output, 1, socket);                                     // Address.socket_address
            ProtoBytes.WriteStringField(output, 2, endpoint.Address);
            if (endpoint.Port != 0)
            {
                output.WriteTag(3, WireFormat.WireType.Varint);
                output.WriteUInt32((uint)endpoint.Port);
            }
        }
        output.CheckNoSpaceLeft();
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    public static Address SocketAddress(string address, int port) => new()
    {
        SocketAddress = new Envoy.Config.Core.V3.SocketAddress
        {
            Protocol = Envoy.Config.Core.V3.SocketAddress.Types.Protocol.Tcp,
            Address = address,
            PortValue = (uint)port,
        },
    };

    /// <summary>
    /// The tenant's network RBAC filter for one path. Inline: the config in the filter (none when the decision
    /// serves no filter). ECDS: always a filter, naming a TypedExtensionConfig that holds the config (a no-rules
    /// RBAC, which enforces nothing, when the decision serves no filter), so that adding, editing or removing a
    /// list later needs no listener change except a narrowing's rename.
    /// </summary>
    private static (Filter Filter, EnvoyResource? Extension)? RbacFilter(string tenantId, string path, RbacBody? body,
        SeedSettings seed, string generation)
    {
        var rbac = RbacConfigs.Network(tenantId, path, body);
        if (seed.RbacDelivery == RbacDelivery.Inline)
        {
            return rbac is null ? null : (new Filter { Name = EnvoyNames.NetworkRbac, TypedConfig = ProtoBytes.Pack(rbac) }, null);
        }
        rbac ??= RbacConfigs.NetworkUnrestricted(tenantId, path);
        var name = EnvoyNames.EcdsRbac(tenantId, path, generation);
        var filter = new Filter
        {
            Name = name,
            ConfigDiscovery = new ExtensionConfigSource
            {
                ConfigSource = ConfigSourceFor(seed),
                // Warm: the listener waits for the config (it is in the same snapshot). Only if ECDS fails
                // within initial_fetch_timeout does the default apply, and it fails closed, counted under the
                // tenant's own stat prefix. It depends on tenant and path only, never on the list.
                DefaultConfig = ProtoBytes.Pack(RbacConfigs.NetworkDenyAll(tenantId, path)),
                ApplyDefaultConfigWithoutWarming = false,
                TypeUrls = { EnvoyNames.NetworkRbacTypeUrl },
            },
        };
        var extension = EnvoyResource.FromBytes(name, TypedExtensionConfig.Descriptor, ProtoBytes.TypedExtensionConfig(name, rbac));
        return (filter, extension);
    }

    private static Listener NodePortListener(string key, int nodePort, Filter? rbac, SeedSettings seed, TimeSpan? maxDuration)
    {
        var listener = new Listener { Name = key, Address = SocketAddress("0.0.0.0", nodePort) };
        if (seed.ProxyProtocol)
        {
            listener.ListenerFilters.Add(SharedListeners.ProxyProtocolFilter());
        }
        var chain = new FilterChain();
        AddFilters(chain, key, rbac, maxDuration);
        listener.FilterChains.Add(chain);
        return listener;
    }

    private static FilterChain SniChain(string key, string hostname, Filter? rbac, TimeSpan? maxDuration)
    {
        var chain = new FilterChain
        {
            Name = key,
            FilterChainMatch = new FilterChainMatch { ServerNames = { hostname }, TransportProtocol = "tls" },
        };
        AddFilters(chain, key, rbac, maxDuration);
        return chain;
    }

    /// <summary>RBAC first, so a denied connection never reaches <c>tcp_proxy</c> (no upstream connection is opened).</summary>
    private static void AddFilters(FilterChain chain, string cluster, Filter? rbac, TimeSpan? maxDuration)
    {
        if (rbac is not null)
        {
            chain.Filters.Add(rbac);
        }
        var proxy = new TcpProxy { StatPrefix = EnvoyNames.TcpStatPrefix, Cluster = cluster };
        if (maxDuration is { } max)
        {
            proxy.MaxDownstreamConnectionDuration = Duration.FromTimeSpan(max);
        }
        chain.Filters.Add(new Filter { Name = EnvoyNames.TcpProxy, TypedConfig = ProtoBytes.Pack(proxy) });
    }

    /// <remarks>
    /// With ECDS the CONNECT route carries the same cap as <c>tcp_proxy</c> (<c>max_stream_duration</c>): a route
    /// change reaches new streams only, so a tunnel opened before a narrowing ends within the cap at the latest.
    /// </remarks>
    private static VirtualHost TunnelingVirtualHost(string key, ExposedService service, ExposedPort port, Any? rbac, TimeSpan? maxDuration)
    {
        var vhost = new VirtualHost
        {
            Name = key,
            Domains = { EnvoyNames.TunnelingAuthority(service.Namespace, service.Name, port.Port) },
            Routes =
            {
                new Route
                {
                    Match = new RouteMatch { ConnectMatcher = new RouteMatch.Types.ConnectMatcher() },
                    Route_ = new RouteAction
                    {
                        Cluster = key,
                        UpgradeConfigs =
                        {
                            new RouteAction.Types.UpgradeConfig
                            {
                                UpgradeType = EnvoyNames.ConnectUpgrade,
                                ConnectConfig = new RouteAction.Types.UpgradeConfig.Types.ConnectConfig(),
                            },
                        },
                    },
                },
            },
        };
        if (rbac is not null)
        {
            vhost.TypedPerFilterConfig.Add(EnvoyNames.HttpRbac, rbac);
        }
        if (maxDuration is { } max)
        {
            vhost.Routes[0].Route_.MaxStreamDuration = new RouteAction.Types.MaxStreamDuration { MaxStreamDuration_ = Duration.FromTimeSpan(max) };
        }
        return vhost;
    }

    private static IReadOnlyList<Diagnostic> ReportDecision(Tenant tenant, AllowlistDecision decision, SeedSettings seed)
    {
        var diagnostics = new List<Diagnostic>(0);
        var obj = tenant.HasClusterObject ? $"Cluster/{tenant.Id}" : $"Namespace/{tenant.Namespace}";
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
            case Enforcement.EnforcedProxyProtocol or Enforcement.DryRun when seed.ProxyProtocol:
                var trusted = CidrSet.Build(seed.ProxyProtocolTrustedRanges);
                if (decision.EffectiveRanges.Normalized.Any(r => trusted.Contains(r.Network)))
                {
                    diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "AllowlistContainsLoadBalancer", obj,
                        "spec.apiServerAllowedIPRanges",
                        "the list includes the load balancer's own addresses, so every connection through the load balancer is allowed; remove them",
                        tenant.Id));
                }
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
            tenant.Services.SelectMany(s => s.Ports).Where(p => p.ViaNodePort).Select(p => p.NodePort).ToList(),
            artifacts.TunnelingAuthorities,
            ServingLastGood: false)
        {
            Ranges = artifacts.Decision.EffectiveRanges,
        };
    }
}
