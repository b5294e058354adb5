using Envoy.Config.Cluster.V3;
using Envoy.Config.Core.V3;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Snapshots;
using ListenerFilter = Envoy.Config.Listener.V3.Filter;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;
using RouteEntry = Envoy.Config.Route.V3.Route;

namespace XdsControlPlane.Xds.Tests.Infrastructure;

/// <summary>Hand-made Envoy resources that pass the consistency check.</summary>
internal static class TestSnapshots
{
    public const string RbacTypeUrl = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

    /// <summary>An EDS cluster and its ClusterLoadAssignment (same name).</summary>
    public static IMessage[] Cluster(string name, int port = 8080, int timeoutSeconds = 5) =>
    [
        new Cluster
        {
            Name = name,
            Type = Envoy.Config.Cluster.V3.Cluster.Types.DiscoveryType.Eds,
            ConnectTimeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(timeoutSeconds)),
            EdsClusterConfig = new Envoy.Config.Cluster.V3.Cluster.Types.EdsClusterConfig
            {
                EdsConfig = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 },
            },
        },
        Endpoints(name, port),
    ];

    public static ClusterLoadAssignment Endpoints(string name, int port) => new()
    {
        ClusterName = name,
        Endpoints =
        {
            new LocalityLbEndpoints
            {
                LbEndpoints =
                {
                    new LbEndpoint
                    {
                        Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = Address(port) },
                    },
                },
            },
        },
    };

    public static Address Address(int port) => new() { SocketAddress = new SocketAddress { Address = "10.0.0.1", PortValue = (uint)port } };

    public static Listener Listener(string name, int port, string cluster) => new()
    {
        Name = name,
        Address = Address(port),
        FilterChains =
        {
            new FilterChain
            {
                Filters =
                {
                    new ListenerFilter
                    {
                        Name = "envoy.filters.network.tcp_proxy",
                        TypedConfig = Any.Pack(new TcpProxy { StatPrefix = name, Cluster = cluster }),
                    },
                },
            },
        },
    };

    /// <summary>A listener whose first filter is served by ECDS under <paramref name="filterName"/>.</summary>
    public static Listener EcdsListener(string name, int port, string cluster, string filterName)
    {
        var listener = Listener(name, port, cluster);
        listener.FilterChains[0].Filters.Insert(0, new ListenerFilter
        {
            Name = filterName,
            ConfigDiscovery = new ExtensionConfigSource
            {
                ConfigSource = new ConfigSource { Ads = new AggregatedConfigSource(), ResourceApiVersion = ApiVersion.V3 },
                TypeUrls = { RbacTypeUrl },
            },
        });
        return listener;
    }

    public static TypedExtensionConfig Rbac(string filterName, string statPrefix = "rbac") => new()
    {
        Name = filterName,
        TypedConfig = Any.Pack(new NetworkRbac { StatPrefix = statPrefix }),
    };

    public static RouteConfiguration Routes(string name, string cluster) => new()
    {
        Name = name,
        VirtualHosts =
        {
            new VirtualHost
            {
                Name = name,
                Domains = { "*" },
                Routes = { new RouteEntry { Match = new RouteMatch { Prefix = "/" }, Route_ = new RouteAction { Cluster = cluster } } },
            },
        },
    };

    /// <summary>A routing scope (SRDS) keyed by <paramref name="key"/> that names the route configuration <paramref name="route"/>.</summary>
    public static ScopedRouteConfiguration Scope(string name, string route, string key) => new()
    {
        Name = name,
        RouteConfigurationName = route,
        Key = new ScopedRouteConfiguration.Types.Key { Fragments = { new ScopedRouteConfiguration.Types.Key.Types.Fragment { StringKey = key } } },
    };

    /// <summary>Builds a snapshot from messages (or arrays of them); every resource is serialised afresh.</summary>
    public static Snapshot Snap(params object[] items)
    {
        var resources = Flatten(items).Select(m => new EnvoyResource(NameOf(m), m)).ToList();
        var snapshot = new Snapshot(resources.GroupBy(r => r.TypeUrl).Select(g => new ResourceSet(g.Key, g)));
        var problems = SnapshotConsistency.Check(snapshot);
        Assert.True(problems.Count == 0, string.Join("; ", problems));
        return snapshot;
    }

    /// <summary>
    /// A snapshot derived from <paramref name="from"/> as the compiler derives one (<see cref="ResourceSet.With"/>), so each
    /// set knows what changed since the one before; <paramref name="upserts"/> are added or changed in the order given.
    /// </summary>
    public static Snapshot Change(Snapshot from, object[] upserts, params (string TypeUrl, string Name)[] removals)
    {
        var resources = Flatten(upserts).Select(m => new EnvoyResource(NameOf(m), m)).ToList();
        var snapshot = new Snapshot(from.ByType.Values.Select(set => set.With(
            resources.Where(r => r.TypeUrl == set.TypeUrl),
            removals.Where(r => r.TypeUrl == set.TypeUrl).Select(r => r.Name))));
        var problems = SnapshotConsistency.Check(snapshot);
        Assert.True(problems.Count == 0, string.Join("; ", problems));
        return snapshot;
    }

    private static IEnumerable<IMessage> Flatten(IEnumerable<object> items)
    {
        foreach (var item in items)
        {
            switch (item)
            {
                case IMessage message:
                    yield return message;
                    break;
                case IEnumerable<object> many:
                    foreach (var inner in Flatten(many))
                    {
                        yield return inner;
                    }
                    break;
                default:
                    throw new ArgumentException($"not a message: {item}");
            }
        }
    }

    private static string NameOf(IMessage message) => message switch
    {
        Cluster c => c.Name,
        ClusterLoadAssignment e => e.ClusterName,
        Listener l => l.Name,
        RouteConfiguration r => r.Name,
        ScopedRouteConfiguration s => s.Name,
        TypedExtensionConfig t => t.Name,
        _ => throw new ArgumentException(message.Descriptor.FullName),
    };
}
