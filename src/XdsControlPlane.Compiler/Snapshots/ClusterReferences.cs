using System.Runtime.CompilerServices;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using TypedExtensionConfig = Envoy.Config.Core.V3.TypedExtensionConfig;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>A filter a listener takes from ECDS: its name, the types it accepts, and its default config's type.</summary>
public sealed record DiscoveredFilter(string Listener, string Name, IReadOnlyList<string> TypeUrls, string? DefaultTypeUrl);

/// <summary>
/// What one resource refers to, read once from its message and kept next to the (immutable) resource: the
/// consistency check and the pushes then never parse a resource again, so a resource need not keep its
/// message in memory (see <see cref="EnvoyResource.Message"/>).
/// </summary>
public sealed class ResourceReferences
{
    private static readonly ConditionalWeakTable<EnvoyResource, ResourceReferences> Cache = new();

    /// <summary>Clusters a listener or route configuration sends traffic to.</summary>
    public IReadOnlyList<string> Clusters { get; private init; } = [];

    /// <summary>The ClusterLoadAssignment an EDS cluster reads, or null.</summary>
    public string? EdsServiceName { get; private init; }

    /// <summary>Route configurations a listener's HTTP connection managers fetch by RDS (directly or per scope).</summary>
    public IReadOnlyList<(string Scope, string Route)> RouteConfigs { get; private init; } = [];

    /// <summary>Filters a listener takes from ECDS.</summary>
    public IReadOnlyList<DiscoveredFilter> DiscoveredFilters { get; private init; } = [];

    /// <summary>For a TypedExtensionConfig: the name inside it and the type of its config (null when absent).</summary>
    public (string Name, string? TypeUrl)? Extension { get; private init; }

    public static ResourceReferences Of(EnvoyResource resource) => Cache.GetValue(resource, Compute);

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

    private static readonly ConditionalWeakTable<object, ResourceReferences> PartCache = new();

    /// <summary>The references of one filter chain of <paramref name="listener"/>, read once per chain part (keyed by <paramref name="part"/>).</summary>
    public static ResourceReferences OfChain(object part, string listener, Func<FilterChain> chain) => PartCache.GetValue(part, _ =>
    {
        var clusters = new HashSet<string>(StringComparer.Ordinal);
        var routes = new List<(string, string)>();
        var discovered = new List<DiscoveredFilter>();
        AddFromChain(listener, chain(), clusters, routes, discovered);
        return new ResourceReferences { Clusters = [.. clusters], RouteConfigs = routes, DiscoveredFilters = discovered };
    });

    private static void AddFromChain(string listener, FilterChain? chain, HashSet<string> clusters, List<(string, string)> routes, List<DiscoveredFilter> discovered)
    {
        foreach (var filter in chain?.Filters ?? [])
        {
            if (filter.ConfigDiscovery is { } discovery)
            {
                discovered.Add(new DiscoveredFilter(listener, filter.Name, [.. discovery.TypeUrls], discovery.DefaultConfig?.TypeUrl));
            }
            AddFromFilter(filter, clusters, routes);
        }
    }

    private static ResourceReferences Compute(EnvoyResource resource)
    {
        if (resource.ReferencesFromParts is { } fromParts)
        {
            return fromParts();
        }
        switch (resource.Message)
        {
            case Listener listener:
            {
                var clusters = new HashSet<string>(StringComparer.Ordinal);
                var routes = new List<(string, string)>();
                var discovered = new List<DiscoveredFilter>();
                foreach (var chain in listener.FilterChains.Append(listener.DefaultFilterChain))
                {
                    AddFromChain(listener.Name, chain, clusters, routes, discovered);
                }
                return new ResourceReferences { Clusters = [.. clusters], RouteConfigs = routes, DiscoveredFilters = discovered };
            }
            case RouteConfiguration routeConfiguration:
            {
                var clusters = new HashSet<string>(StringComparer.Ordinal);
                AddFromRoutes(routeConfiguration, clusters);
                return new ResourceReferences { Clusters = [.. clusters] };
            }
            case Cluster c when c.ClusterDiscoveryTypeCase == Cluster.ClusterDiscoveryTypeOneofCase.Type && c.Type == Cluster.Types.DiscoveryType.Eds:
                return new ResourceReferences { EdsServiceName = string.IsNullOrEmpty(c.EdsClusterConfig?.ServiceName) ? c.Name : c.EdsClusterConfig.ServiceName };
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
                if (scope.RouteConfiguration is { } inlineScope)
                {
                    AddFromRoutes(inlineScope, found);
                }
                else
                {
                    routes.Add((scope.Name, scope.RouteConfigurationName));
                }
            }
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

/// <summary>Which clusters a listener or route configuration uses, and which EDS name a cluster reads (cached per resource).</summary>
public static class ClusterReferences
{
    public static IReadOnlyList<string> Of(EnvoyResource resource) => ResourceReferences.Of(resource).Clusters;

    /// <summary>The ClusterLoadAssignment name an EDS cluster subscribes to, or null for other clusters.</summary>
    public static string? EdsServiceName(EnvoyResource cluster) => ResourceReferences.Of(cluster).EdsServiceName;
}
