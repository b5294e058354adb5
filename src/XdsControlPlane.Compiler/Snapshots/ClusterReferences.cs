using System.Runtime.CompilerServices;
using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>
/// Which clusters a listener or route configuration uses, and which EDS name a cluster reads. Computed
/// once per (immutable) resource and cached next to it, so neither the consistency check nor a push
/// re-parses a resource another already read.
/// </summary>
public static class ClusterReferences
{
    private static readonly ConditionalWeakTable<EnvoyResource, string[]> Cache = new();

    public static IReadOnlyList<string> Of(EnvoyResource resource) => Cache.GetValue(resource, Compute);

    /// <summary>The ClusterLoadAssignment name an EDS cluster subscribes to, or null for other clusters.</summary>
    public static string? EdsServiceName(EnvoyResource cluster)
    {
        if (cluster.Message is not Cluster c)
        {
            return null;
        }
        if (c.ClusterDiscoveryTypeCase == Cluster.ClusterDiscoveryTypeOneofCase.Type && c.Type == Cluster.Types.DiscoveryType.Eds)
        {
            return string.IsNullOrEmpty(c.EdsClusterConfig?.ServiceName) ? c.Name : c.EdsClusterConfig.ServiceName;
        }
        return null;
    }

    private static string[] Compute(EnvoyResource resource)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        switch (resource.Message)
        {
            case Listener listener:
                foreach (var chain in listener.FilterChains.Append(listener.DefaultFilterChain))
                {
                    if (chain is null)
                    {
                        continue;
                    }
                    foreach (var filter in chain.Filters)
                    {
                        AddFromFilter(filter, found);
                    }
                }
                break;
            case RouteConfiguration routes:
                AddFromRoutes(routes, found);
                break;
        }
        return [.. found];
    }

    private static void AddFromFilter(Envoy.Config.Listener.V3.Filter filter, HashSet<string> found)
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
            foreach (var scope in hcm.ScopedRoutes?.ScopedRouteConfigurationsList?.ScopedRouteConfigurations ?? [])
            {
                if (scope.RouteConfiguration is { } inlineScope)
                {
                    AddFromRoutes(inlineScope, found);
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
