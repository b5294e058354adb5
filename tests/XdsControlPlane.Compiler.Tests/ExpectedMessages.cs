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
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;
using Filter = Envoy.Config.Listener.V3.Filter;
using HealthCheck = Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheck;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// What the compiler's written encodings describe, built as message graphs: the expectation the bytes are held to
/// (byte-identical to serialising these). The compiler itself builds no messages.
/// </summary>
internal static class ExpectedMessages
{
    public static ConfigSource ConfigSource(SeedSettings seed) => seed.ConfigSource switch
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

    /// <summary>A tenant port's upstream cluster: EDS, round robin, 1 s connect timeout.</summary>
    public static Cluster Cluster(string key, SeedSettings seed) => new()
    {
        Name = key,
        ConnectTimeout = new Duration { Seconds = 1 },
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
        LbPolicy = Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin,
        EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig { EdsConfig = ConfigSource(seed) },
    };

    public static Address SocketAddress(string address, int port) => new()
    {
        SocketAddress = new Envoy.Config.Core.V3.SocketAddress
        {
            Protocol = Envoy.Config.Core.V3.SocketAddress.Types.Protocol.Tcp,
            Address = address,
            PortValue = (uint)port,
        },
    };

    public static CidrRange Cidr(XdsControlPlane.Cidr.CidrRange range) => new()
    {
        AddressPrefix = range.NetworkText,
        PrefixLen = (uint)range.PrefixLength,
    };

    public static ListenerFilter ProxyProtocolFilter() => new()
    {
        Name = EnvoyNames.ProxyProtocol,
        TypedConfig = Any.Pack(new ProxyProtocol { AllowRequestsWithoutProxyProtocol = true }),
    };

    public static Listener StatsListener(SeedSettings seed)
    {
        var healthCheck = new HealthCheck { PassThroughMode = false };
        healthCheck.Headers.Add(new HeaderMatcher { Name = ":path", StringMatch = new StringMatcher { Exact = "/healthz" } });
        healthCheck.Headers.Add(GetOnly());
        var host = new VirtualHost { Name = EnvoyNames.StatsListener, Domains = { "*" } };
        foreach (var path in SharedListeners.StatsPaths)
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
                new HttpFilter { Name = EnvoyNames.HealthCheck, TypedConfig = Any.Pack(healthCheck) },
                new HttpFilter { Name = EnvoyNames.Router, TypedConfig = Any.Pack(new Router()) },
            },
        };
        var listener = new Listener { Name = EnvoyNames.StatsListener, Address = SocketAddress("0.0.0.0", seed.StatsPort) };
        listener.FilterChains.Add(new FilterChain
        {
            Filters = { new Filter { Name = EnvoyNames.HttpConnectionManager, TypedConfig = Any.Pack(hcm) } },
        });
        return listener;
    }

    private static HeaderMatcher GetOnly() => new() { Name = ":method", StringMatch = new StringMatcher { Exact = "GET" } };

    public static Cluster StatsCluster(SeedSettings seed) => new()
    {
        Name = EnvoyNames.StatsCluster,
        ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)),
        Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Static,
        LbPolicy = Envoy.Config.Cluster.V3.Cluster.Types.LbPolicy.RoundRobin,
        LoadAssignment = new ClusterLoadAssignment
        {
            ClusterName = EnvoyNames.StatsCluster,
            Endpoints =
            {
                new LocalityLbEndpoints
                {
                    LbEndpoints = { new LbEndpoint { Endpoint = new Endpoint { Address = SocketAddress("127.0.0.1", seed.AdminPort) } } },
                },
            },
        },
    };

    /// <summary>The SNI listener with every tenant's chain (or none).</summary>
    public static Listener SniListener(SeedSettings seed, IEnumerable<HashedPart<FilterChain>> chains)
    {
        var listener = new Listener { Name = EnvoyNames.SniListener, Address = SocketAddress("0.0.0.0", seed.SniPort) };
        if (seed.ProxyProtocol)
        {
            listener.ListenerFilters.Add(ProxyProtocolFilter());
        }
        listener.ListenerFilters.Add(new ListenerFilter { Name = EnvoyNames.TlsInspector, TypedConfig = Any.Pack(new TlsInspector()) });
        listener.FilterChains.AddRange(chains.Select(c => c.Message));
        return listener;
    }

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
            RdsConfigSource = ConfigSource(seed),
            ScopedRds = new ScopedRds { ScopedRdsConfigSource = ConfigSource(seed) },
        };
        var hcm = new HttpConnectionManager
        {
            CodecType = HttpConnectionManager.Types.CodecType.Auto,
            StatPrefix = EnvoyNames.HttpStatPrefix,
            ScopedRoutes = scoped,
            Http2ProtocolOptions = new Http2ProtocolOptions { AllowConnect = true },
            UpgradeConfigs = { new HttpConnectionManager.Types.UpgradeConfig { UpgradeType = EnvoyNames.ConnectUpgrade } },
            UseRemoteAddress = true,
            XffNumTrustedHops = 0,
            HttpFilters =
            {
                new HttpFilter { Name = EnvoyNames.HttpRbac, TypedConfig = Any.Pack(new Envoy.Extensions.Filters.Http.Rbac.V3.RBAC()) },
                new HttpFilter { Name = EnvoyNames.Router, TypedConfig = Any.Pack(new Router()) },
            },
        };
        var listener = new Listener { Name = EnvoyNames.TunnelingListener, Address = SocketAddress("0.0.0.0", seed.TunnelingPort) };
        if (seed.ProxyProtocol)
        {
            listener.ListenerFilters.Add(ProxyProtocolFilter());
        }
        listener.FilterChains.Add(new FilterChain
        {
            Filters = { new Filter { Name = EnvoyNames.HttpConnectionManager, TypedConfig = Any.Pack(hcm) } },
        });
        return listener;
    }
}
