using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Filter = Envoy.Config.Listener.V3.Filter;
using Envoy.Config.Route.V3;
using HealthCheck = Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheck;
using Envoy.Extensions.Filters.Http.Router.V3;
using Envoy.Extensions.Filters.Listener.ProxyProtocol.V3;
using Envoy.Extensions.Filters.Listener.TlsInspector.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>The resources all tenants share: the stats listener, and the SNI and tunneling listeners that hold their parts.</summary>
public static class SharedListeners
{
    public static ListenerFilter ProxyProtocolFilter() => new()
    {
        Name = EnvoyNames.ProxyProtocol,
        // In-seed clients (and health checks) connect without a header; they stay working, and RBAC
        // trusts a header's address only when the peer is the load balancer.
        TypedConfig = ProtoBytes.Pack(new ProxyProtocol { AllowRequestsWithoutProxyProtocol = true }),
    };

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
    public static Listener StatsListener(SeedSettings seed)
    {
        var healthCheck = new HealthCheck { PassThroughMode = false };
        healthCheck.Headers.Add(new HeaderMatcher { Name = ":path", StringMatch = new StringMatcher { Exact = "/healthz" } });
        healthCheck.Headers.Add(GetOnly());
        var host = new VirtualHost { Name = EnvoyNames.StatsListener, Domains = { "*" } };
        foreach (var path in StatsPaths)
        {
            host.Routes.Add(new Route
            {
                Match = new RouteMatch { Path = path, Headers = { GetOnly() } },
                Route_ = new RouteAction { Cluster = EnvoyNames.StatsCluster },
            });
        }
        host.Routes.Add(new Route
        {
            Match = new RouteMatch { Prefix = "/" },
            DirectResponse = new DirectResponseAction { Status = 404 },
        });
        var hcm = new HttpConnectionManager
        {
            CodecType = HttpConnectionManager.Types.CodecType.Auto,
            StatPrefix = EnvoyNames.StatsListener,
            RouteConfig = new RouteConfiguration { Name = EnvoyNames.StatsListener, VirtualHosts = { host } },
            HttpFilters =
            {
                new HttpFilter { Name = EnvoyNames.HealthCheck, TypedConfig = ProtoBytes.Pack(healthCheck) },
                new HttpFilter { Name = EnvoyNames.Router, TypedConfig = ProtoBytes.Pack(new Router()) },
            },
        };
        var listener = new Listener { Name = EnvoyNames.StatsListener, Address = TenantCompiler.SocketAddress("0.0.0.0", seed.StatsPort) };
        listener.FilterChains.Add(new FilterChain
        {
            Filters = { new Filter { Name = EnvoyNames.HttpConnectionManager, TypedConfig = ProtoBytes.Pack(hcm) } },
        });
        return listener;
    }

    private static HeaderMatcher GetOnly() => new() { Name = ":method", StringMatch = new StringMatcher { Exact = "GET" } };

    public static Cluster StatsCluster(SeedSettings seed) => new()
    {
        Name = EnvoyNames.StatsCluster,
        ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
        Type = Cluster.Types.DiscoveryType.Static,
        LbPolicy = Cluster.Types.LbPolicy.RoundRobin,
        LoadAssignment = new ClusterLoadAssignment
        {
            ClusterName = EnvoyNames.StatsCluster,
            Endpoints =
            {
                new LocalityLbEndpoints
                {
                    LbEndpoints = { new LbEndpoint { Endpoint = new Endpoint { Address = TenantCompiler.SocketAddress("127.0.0.1", seed.AdminPort) } } },
                },
            },
        },
    };

    /// <summary>
    /// The SNI listener's encoding, assembled from the chains' encodings without building the message: the
    /// canonical encoding writes fields in number order, and <c>filter_chains</c> (3) comes after the shell's
    /// <c>name</c> (1) and <c>address</c> (2) and before all its other fields, so the bytes are those fields,
    /// each chain as a length-delimited field 3, then the rest. Byte-identical to serialising the message
    /// (a test holds it to that).
    /// </summary>
    public static ByteString SniListenerBytes(SeedSettings seed, IReadOnlyList<HashedPart<FilterChain>> chains)
    {
        var shell = SniListener(seed, []);
        var head = new Listener { Name = shell.Name, Address = shell.Address };
        var tail = shell.Clone();
        tail.Name = "";
        tail.Address = null;
        const uint chainTag = (Listener.FilterChainsFieldNumber << 3) | 2;
        var size = head.CalculateSize() + tail.CalculateSize();
        foreach (var chain in chains)
        {
            size += CodedOutputStream.ComputeRawVarint32Size(chainTag) + CodedOutputStream.ComputeLengthSize(chain.Bytes.Length) + chain.Bytes.Length;
        }
        var bytes = new byte[size];
        var output = new CodedOutputStream(bytes);
        head.WriteTo(output);
        foreach (var chain in chains)
        {
            output.WriteTag(chainTag);
            output.WriteBytes(chain.Bytes);
        }
        tail.WriteTo(output);
        output.CheckNoSpaceLeft();
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>The SNI listener with every tenant's chain (or none: the shell its version is computed from).</summary>
    public static Listener SniListener(SeedSettings seed, IEnumerable<HashedPart<FilterChain>> chains)
    {
        var listener = new Listener { Name = EnvoyNames.SniListener, Address = TenantCompiler.SocketAddress("0.0.0.0", seed.SniPort) };
        if (seed.ProxyProtocol)
        {
            listener.ListenerFilters.Add(ProxyProtocolFilter());
        }
        // TLS inspector must be enabled explicitly (Envoy ≥ 1.17) for server_names to match.
        listener.ListenerFilters.Add(new ListenerFilter { Name = EnvoyNames.TlsInspector, TypedConfig = ProtoBytes.Pack(new TlsInspector()) });
        listener.FilterChains.AddRange(chains.Select(c => c.Message));
        return listener;
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
    public static Listener TunnelingListener(SeedSettings seed)
    {
        var scoped = new ScopedRoutes
        {
            Name = EnvoyNames.TunnelingScopes,
            ScopeKeyBuilder = new ScopedRoutes.Types.ScopeKeyBuilder
            {
                Fragments =
                {
                    new ScopedRoutes.Types.ScopeKeyBuilder.Types.FragmentBuilder
                    {
                        HeaderValueExtractor = new ScopedRoutes.Types.ScopeKeyBuilder.Types.FragmentBuilder.Types.HeaderValueExtractor
                        {
                            Name = ":authority",
                            ElementSeparator = ".",
                            Index = 1,
                        },
                    },
                },
            },
            RdsConfigSource = TenantCompiler.ConfigSourceFor(seed),
            ScopedRds = new ScopedRds { ScopedRdsConfigSource = TenantCompiler.ConfigSourceFor(seed) },
        };
        var hcm = new HttpConnectionManager
        {
            CodecType = HttpConnectionManager.Types.CodecType.Auto,
            StatPrefix = EnvoyNames.HttpStatPrefix,
            ScopedRoutes = scoped,
            Http2ProtocolOptions = new Http2ProtocolOptions { AllowConnect = true },
            UpgradeConfigs = { new HttpConnectionManager.Types.UpgradeConfig { UpgradeType = EnvoyNames.ConnectUpgrade } },
            // The client address for RBAC is the connection's (after PROXY protocol), never a header a
            // client can write: X-Forwarded-For is not trusted.
            UseRemoteAddress = true,
            XffNumTrustedHops = 0,
            HttpFilters =
            {
                new HttpFilter { Name = EnvoyNames.HttpRbac, TypedConfig = ProtoBytes.Pack(RbacConfigs.HttpBase()) },
                new HttpFilter { Name = EnvoyNames.Router, TypedConfig = ProtoBytes.Pack(new Router()) },
            },
        };
        var listener = new Listener { Name = EnvoyNames.TunnelingListener, Address = TenantCompiler.SocketAddress("0.0.0.0", seed.TunnelingPort) };
        if (seed.ProxyProtocol)
        {
            listener.ListenerFilters.Add(ProxyProtocolFilter());
        }
        listener.FilterChains.Add(new FilterChain
        {
            Filters = { new Filter { Name = EnvoyNames.HttpConnectionManager, TypedConfig = ProtoBytes.Pack(hcm) } },
        });
        return listener;
    }
}
