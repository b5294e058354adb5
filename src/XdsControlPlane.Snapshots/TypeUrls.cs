namespace XdsControlPlane.Snapshots;

/// <summary>The xDS resource types this control plane serves.</summary>
public static class TypeUrls
{
    public const string Prefix = "type.googleapis.com/";
    public const string Cluster = Prefix + "envoy.config.cluster.v3.Cluster";
    public const string Endpoint = Prefix + "envoy.config.endpoint.v3.ClusterLoadAssignment";
    public const string Listener = Prefix + "envoy.config.listener.v3.Listener";
    public const string Route = Prefix + "envoy.config.route.v3.RouteConfiguration";
    public const string ScopedRoute = Prefix + "envoy.config.route.v3.ScopedRouteConfiguration";
    public const string ExtensionConfig = Prefix + "envoy.config.core.v3.TypedExtensionConfig";

    /// <summary>
    /// The order of one push over ADS: clusters, then their endpoints, then the listeners that use
    /// them, then the routing scopes (SRDS: the tunneling listener subscribes to them), then the route
    /// configurations the scopes name (make before break; xDS protocol "eventual consistency considerations").
    /// A scope before its routes: Envoy asks RDS for a scope's route configuration only once it has the scope,
    /// and serves the scope (no route yet) only from then on; a route configuration before its scope would
    /// only wait, unrequested.
    /// </summary>
    public static IReadOnlyList<string> PushOrder { get; } = [Cluster, Endpoint, Listener, ScopedRoute, Route, ExtensionConfig];

    /// <summary>
    /// State-of-the-world responses for these types carry every subscribed resource (omission = deletion).
    /// SRDS too: Envoy's SotW handler for scopes removes every scope it holds that a response leaves out
    /// (envoy source/common/router/scoped_rds.cc, <c>ScopedRdsConfigSubscription::onConfigUpdate</c>).
    /// </summary>
    public static bool IsFullState(string typeUrl) => typeUrl is Cluster or Listener or ScopedRoute;

    public static bool IsKnown(string typeUrl) => PushOrder.Contains(typeUrl);
}
