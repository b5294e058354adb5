using System.Runtime.CompilerServices;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using TypedExtensionConfig = Envoy.Config.Core.V3.TypedExtensionConfig;

namespace XdsControlPlane.Snapshots;

/// <summary>
/// What one resource refers to, read once from its message and kept by the (immutable) resource: the
/// consistency check and the pushes then never parse a resource again, so a resource need not keep its
/// message in memory (see <see cref="EnvoyResource.Message"/>).
/// </summary>
public sealed class ResourceReferences
{

    /// <summary>Clusters a listener or route configuration sends traffic to.</summary>
    public IReadOnlyList<string> Clusters { get; private init; } = [];

    /// <summary>The ClusterLoadAssignment an EDS cluster reads, or null.</summary>
    public string? EdsServiceName { get; private init; }

    /// <summary>
    /// Route configurations fetched by RDS: a listener's HTTP connection managers' (directly or per inline scope), or
    /// the one a ScopedRouteConfiguration (SRDS) names.
    /// </summary>
    public IReadOnlyList<(string Scope, string Route)> RouteConfigs { get; private init; } = [];

    /// <summary>For a ScopedRouteConfiguration: its key (the fragments, each as text, joined by NUL), or null.</summary>
    public string? ScopeKey { get; private init; }

    /// <summary>Filters a listener takes from ECDS.</summary>
    public IReadOnlyList<DiscoveredFilter> DiscoveredFilters { get; private init; } = [];

    /// <summary>For a TypedExtensionConfig: the name inside it and the type of its config (null when absent).</summary>
    public (string Name, string? TypeUrl)? Extension { get; private init; }

    public static ResourceReferences Of(EnvoyResource resource) => resource.References;

    /// <summary>The references of a listener made of <paramref name="parts"/> (its other fields refer to nothing).</summary>
    public static ResourceReferences Union(IEnumerable<ResourceReferences> parts)
    {
        var clusters = new HashSet<string>(StringComparer.Ordinal);
        var routes = new List<(string, string)>();
        var discovered = new List<DiscoveredFilter>();
        foreach (var part in parts)
        {
            clusters.UnionWith(part.Clusters);
            routes.AddRange(part.RouteConfigs);
            discovered.AddRange(part.DiscoveredFilters);
        }
        return new ResourceReferences { Clusters = [.. clusters], RouteConfigs = routes, DiscoveredFilters = discovered };
    }

    // A part belongs to a tenant's artifacts and outlives many listeners assembled from it: its references are
    // read once in its life, whichever listener asks.
    private static readonly ConditionalWeakTable<object, ResourceReferences> PartCache = new();

    /// <summary>
    /// The references of one part of a shared listener (a chain of the SNI listener), read once per part with
    /// <paramref name="read"/>. The part is whatever object its maker keeps for it (the compiler's HashedPart):
    /// only its identity is used, so this package need not know how parts are made.
    /// </summary>
    public static ResourceReferences OfPart<TPart>(TPart part, Func<TPart, ResourceReferences> read)
        where TPart : class => PartCache.GetValue(part, _ => read(part));

    /// <summary>What one filter chain of <paramref name="listener"/> refers to.</summary>
    public static ResourceReferences OfChain(string listener, FilterChain? chain)
    {
        var clusters = new HashSet<string>(StringComparer.Ordinal);
        var routes = new List<(string, string)>();
        var discovered = new List<DiscoveredFilter>();
        foreach (var filter in chain?.Filters ?? [])
        {
            if (filter.ConfigDiscovery is { } discovery)
            {
                discovered.Add(new DiscoveredFilter(listener, filter.Name, [.. discovery.TypeUrls], discovery.DefaultConfig?.TypeUrl));
            }
            AddFromFilter(filter, clusters, routes);
        }
        return new ResourceReferences { Clusters = [.. clusters], RouteConfigs = routes, DiscoveredFilters = discovered };
    }

    /// <summary>What one scope (an SRDS resource, or a scope of a scoped-routes HTTP connection manager) refers to.</summary>
    public static ResourceReferences OfScope(ScopedRouteConfiguration scope)
    {
        var clusters = new HashSet<string>(StringComparer.Ordinal);
        var routes = new List<(string, string)>();
        AddFromScope(scope, clusters, routes);
        // Envoy keys a scope by its fragments (a string each) in order: equal sequences, equal keys.
        var key = string.Join('\0', scope.Key?.Fragments.Select(f => f.StringKey) ?? []);
        return new ResourceReferences { Clusters = [.. clusters], RouteConfigs = routes, ScopeKey = key };
    }

    /// <summary>Reads the references from the resource's message (see <see cref="EnvoyResource.References"/>).</summary>
    internal static ResourceReferences Read(EnvoyResource resource)
    {
        switch (resource.Message)
        {
            case Listener listener:
                return Union(listener.FilterChains.Append(listener.DefaultFilterChain).Select(chain => OfChain(listener.Name, chain)));
            case RouteConfiguration routeConfiguration:
            {
                var clusters = new HashSet<string>(StringComparer.Ordinal);
                AddFromRoutes(routeConfiguration, clusters);
                return new ResourceReferences { Clusters = [.. clusters] };
            }
            case Cluster c when c.ClusterDiscoveryTypeCase == Cluster.ClusterDiscoveryTypeOneofCase.Type && c.Type == Cluster.Types.DiscoveryType.Eds:
                return new ResourceReferences { EdsServiceName = string.IsNullOrEmpty(c.EdsClusterConfig?.ServiceName) ? c.Name : c.EdsClusterConfig.ServiceName };
            case ScopedRouteConfiguration scope:
                return OfScope(scope);
            case TypedExtensionConfig extension:
                return new ResourceReferences { Extension = (extension.Name, extension.TypedConfig?.TypeUrl) };
            default:
                return new ResourceReferences();
        }
    }

    private static void AddFromFilter(Envoy.Config.Listener.V3.Filter filter, HashSet<string> found, List<(string, string)> routes)
    {
        if (filter.TypedConfig is null)
        {
            return;
        }
        if (filter.TypedConfig.Is(TcpProxy.Descriptor))
        {
            var proxy = filter.TypedConfig.Unpack<TcpProxy>();
            if (proxy.ClusterSpecifierCase == TcpProxy.ClusterSpecifierOneofCase.Cluster)
            {
                found.Add(proxy.Cluster);
            }
            else if (proxy.WeightedClusters is { } weighted)
            {
                foreach (var c in weighted.Clusters)
                {
                    found.Add(c.Name);
                }
            }
        }
        else if (filter.TypedConfig.Is(HttpConnectionManager.Descriptor))
        {
            var hcm = filter.TypedConfig.Unpack<HttpConnectionManager>();
            if (hcm.RouteConfig is { } inline)
            {
                AddFromRoutes(inline, found);
            }
            if (hcm.RouteSpecifierCase == HttpConnectionManager.RouteSpecifierOneofCase.Rds)
            {
                routes.Add(("", hcm.Rds.RouteConfigName));
            }
            foreach (var scope in hcm.ScopedRoutes?.ScopedRouteConfigurationsList?.ScopedRouteConfigurations ?? [])
            {
                AddFromScope(scope, found, routes);
            }
        }
    }

    private static void AddFromScope(ScopedRouteConfiguration scope, HashSet<string> found, List<(string, string)> routes)
    {
        if (scope.RouteConfiguration is { } inline)
        {
            AddFromRoutes(inline, found);
        }
        else
        {
            routes.Add((scope.Name, scope.RouteConfigurationName));
        }
    }

    private static void AddFromRoutes(RouteConfiguration routes, HashSet<string> found)
    {
        foreach (var vhost in routes.VirtualHosts)
        {
            foreach (var route in vhost.Routes)
            {
                if (route.Route_ is not { } action)
                {
                    continue;
                }
                if (action.ClusterSpecifierCase == RouteAction.ClusterSpecifierOneofCase.Cluster)
                {
                    found.Add(action.Cluster);
                }
                else if (action.WeightedClusters is { } weighted)
                {
                    foreach (var c in weighted.Clusters)
                    {
                        found.Add(c.Name);
                    }
                }
            }
        }
    }
}
