using Envoy.Config.Cluster.V3;
using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>
/// A snapshot is served only if everything it refers to is in it: a listener pointing at a missing
/// cluster or route would leave Envoy warming forever or dropping connections.
/// </summary>
public static class SnapshotConsistency
{
    /// <summary>Returns the problems found; empty means consistent.</summary>
    public static IReadOnlyList<string> Check(Snapshot snapshot)
    {
        var problems = new List<string>();
        var clusters = snapshot.Get(TypeUrls.Cluster).Resources;
        var endpoints = snapshot.Get(TypeUrls.Endpoint).Resources;
        var routes = snapshot.Get(TypeUrls.Route).Resources;
        var extensions = snapshot.Get(TypeUrls.ExtensionConfig).Resources;

        foreach (var (name, resource) in clusters)
        {
            var cluster = (Cluster)resource.Message;
            if (cluster.ClusterDiscoveryTypeCase == Cluster.ClusterDiscoveryTypeOneofCase.Type
                && cluster.Type == Cluster.Types.DiscoveryType.Eds)
            {
                var serviceName = string.IsNullOrEmpty(cluster.EdsClusterConfig?.ServiceName) ? name : cluster.EdsClusterConfig.ServiceName;
                if (!endpoints.ContainsKey(serviceName))
                {
                    problems.Add($"cluster '{name}' uses EDS but there is no ClusterLoadAssignment '{serviceName}'");
                }
            }
        }

        foreach (var (name, resource) in routes)
        {
            foreach (var cluster in ClusterReferences.Of(resource))
            {
                if (!clusters.ContainsKey(cluster))
                {
                    problems.Add($"route configuration '{name}' routes to missing cluster '{cluster}'");
                }
            }
        }

        foreach (var (name, resource) in snapshot.Get(TypeUrls.Listener).Resources)
        {
            foreach (var cluster in ClusterReferences.Of(resource))
            {
                if (!clusters.ContainsKey(cluster))
                {
                    problems.Add($"listener '{name}' proxies to missing cluster '{cluster}'");
                }
            }
            var listener = (Listener)resource.Message;
            foreach (var chain in listener.FilterChains)
            {
                foreach (var filter in chain.Filters)
                {
                    if (filter.ConfigDiscovery is { } discovery)
                    {
                        CheckDiscovery(name, filter, discovery, extensions, problems);
                    }
                    else if (filter.TypedConfig is { } typed && typed.Is(HttpConnectionManager.Descriptor))
                    {
                        var hcm = typed.Unpack<HttpConnectionManager>();
                        if (hcm.RouteSpecifierCase == HttpConnectionManager.RouteSpecifierOneofCase.Rds && !routes.ContainsKey(hcm.Rds.RouteConfigName))
                        {
                            problems.Add($"listener '{name}' uses missing route configuration '{hcm.Rds.RouteConfigName}'");
                        }
                        foreach (var scope in hcm.ScopedRoutes?.ScopedRouteConfigurationsList?.ScopedRouteConfigurations ?? [])
                        {
                            if (scope.RouteConfiguration is null && !routes.ContainsKey(scope.RouteConfigurationName))
                            {
                                problems.Add($"listener '{name}' scope '{scope.Name}' uses missing route configuration '{scope.RouteConfigurationName}'");
                            }
                        }
                    }
                }
            }
        }
        return problems;
    }

    /// <summary>
    /// XDS-PROTOCOL obligation 23: the filter's name is served as a TypedExtensionConfig whose inner type is
    /// one of the filter's <c>type_urls</c> (Envoy rejects anything else), and so is the default config.
    /// </summary>
    private static void CheckDiscovery(string listener, Envoy.Config.Listener.V3.Filter filter, Envoy.Config.Core.V3.ExtensionConfigSource discovery,
        System.Collections.Immutable.ImmutableSortedDictionary<string, EnvoyResource> extensions, List<string> problems)
    {
        if (discovery.TypeUrls.Count == 0)
        {
            problems.Add($"listener '{listener}' filter '{filter.Name}' is served by ECDS but names no type_urls");
        }
        if (discovery.DefaultConfig is { } fallback && !discovery.TypeUrls.Contains(fallback.TypeUrl))
        {
            problems.Add($"listener '{listener}' filter '{filter.Name}': default_config is a {fallback.TypeUrl}, not one of [{string.Join(", ", discovery.TypeUrls)}]");
        }
        if (!extensions.TryGetValue(filter.Name, out var resource))
        {
            problems.Add($"listener '{listener}' filter '{filter.Name}' is served by ECDS but no such TypedExtensionConfig exists");
            return;
        }
        var config = (Envoy.Config.Core.V3.TypedExtensionConfig)resource.Message;
        if (config.Name != filter.Name)
        {
            problems.Add($"TypedExtensionConfig '{filter.Name}' is named '{config.Name}' inside");
        }
        if (config.TypedConfig is null)
        {
            problems.Add($"TypedExtensionConfig '{filter.Name}' has no typed_config");
        }
        else if (!discovery.TypeUrls.Contains(config.TypedConfig.TypeUrl))
        {
            problems.Add($"TypedExtensionConfig '{filter.Name}' holds a {config.TypedConfig.TypeUrl}, but listener '{listener}' " +
                $"accepts only [{string.Join(", ", discovery.TypeUrls)}]");
        }
    }
}
