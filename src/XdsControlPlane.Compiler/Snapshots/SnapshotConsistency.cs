namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>
/// A snapshot is served only if everything it refers to is in it: a listener pointing at a missing
/// cluster or route would leave Envoy warming forever or dropping connections.
/// </summary>
public static class SnapshotConsistency
{
    /// <summary>Returns the problems found; empty means consistent.</summary>
    /// <remarks>
    /// Reads only each resource's cached <see cref="ResourceReferences"/>: a resource is parsed once in its
    /// life, so a change costs lookups over the snapshot, not a parse of it.
    /// </remarks>
    public static IReadOnlyList<string> Check(Snapshot snapshot)
    {
        var problems = new List<string>();
        var clusters = snapshot.Get(TypeUrls.Cluster).Resources;
        var endpoints = snapshot.Get(TypeUrls.Endpoint).Resources;
        var routes = snapshot.Get(TypeUrls.Route).Resources;
        var extensions = snapshot.Get(TypeUrls.ExtensionConfig).Resources;

        foreach (var (name, resource) in clusters)
        {
            if (ResourceReferences.Of(resource).EdsServiceName is { } serviceName && !endpoints.ContainsKey(serviceName))
            {
                problems.Add($"cluster '{name}' uses EDS but there is no ClusterLoadAssignment '{serviceName}'");
            }
        }

        foreach (var (name, resource) in routes)
        {
            foreach (var cluster in ResourceReferences.Of(resource).Clusters)
            {
                if (!clusters.ContainsKey(cluster))
                {
                    problems.Add($"route configuration '{name}' routes to missing cluster '{cluster}'");
                }
            }
        }

        foreach (var (name, resource) in snapshot.Get(TypeUrls.Listener).Resources)
        {
            var references = ResourceReferences.Of(resource);
            foreach (var cluster in references.Clusters)
            {
                if (!clusters.ContainsKey(cluster))
                {
                    problems.Add($"listener '{name}' proxies to missing cluster '{cluster}'");
                }
            }
            foreach (var (scope, route) in references.RouteConfigs)
            {
                if (!routes.ContainsKey(route))
                {
                    problems.Add(scope.Length == 0
                        ? $"listener '{name}' uses missing route configuration '{route}'"
                        : $"listener '{name}' scope '{scope}' uses missing route configuration '{route}'");
                }
            }
            foreach (var filter in references.DiscoveredFilters)
            {
                CheckDiscovery(filter, extensions, problems);
            }
        }
        return problems;
    }

    /// <summary>
    /// XDS-PROTOCOL obligation 23: the filter's name is served as a TypedExtensionConfig whose inner type is
    /// one of the filter's <c>type_urls</c> (Envoy rejects anything else), and so is the default config.
    /// </summary>
    private static void CheckDiscovery(DiscoveredFilter filter, System.Collections.Immutable.ImmutableSortedDictionary<string, EnvoyResource> extensions,
        List<string> problems)
    {
        var listener = filter.Listener;
        if (filter.TypeUrls.Count == 0)
        {
            problems.Add($"listener '{listener}' filter '{filter.Name}' is served by ECDS but names no type_urls");
        }
        if (filter.DefaultTypeUrl is { } fallback && !filter.TypeUrls.Contains(fallback))
        {
            problems.Add($"listener '{listener}' filter '{filter.Name}': default_config is a {fallback}, not one of [{string.Join(", ", filter.TypeUrls)}]");
        }
        if (!extensions.TryGetValue(filter.Name, out var resource))
        {
            problems.Add($"listener '{listener}' filter '{filter.Name}' is served by ECDS but no such TypedExtensionConfig exists");
            return;
        }
        var (innerName, innerType) = ResourceReferences.Of(resource).Extension ?? (resource.Name, null);
        if (innerName != filter.Name)
        {
            problems.Add($"TypedExtensionConfig '{filter.Name}' is named '{innerName}' inside");
        }
        if (innerType is null)
        {
            problems.Add($"TypedExtensionConfig '{filter.Name}' has no typed_config");
        }
        else if (!filter.TypeUrls.Contains(innerType))
        {
            problems.Add($"TypedExtensionConfig '{filter.Name}' holds a {innerType}, but listener '{listener}' " +
                $"accepts only [{string.Join(", ", filter.TypeUrls)}]");
        }
    }
}
