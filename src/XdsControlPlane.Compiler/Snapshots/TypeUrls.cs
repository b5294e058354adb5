namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>The xDS resource types this control plane serves.</summary>
public static class TypeUrls
{
    public const string Prefix = "type.googleapis.com/";
    public const string Cluster = Prefix + "envoy.config.cluster.v3.Cluster";
    public const string Endpoint = Prefix + "envoy.config.endpoint.v3.ClusterLoadAssignment";
    public const string Listener = Prefix + "envoy.config.listener.v3.Listener";
    public const string Route = Prefix + "envoy.config.route.v3.RouteConfiguration";
    public const string ExtensionConfig = Prefix + "envoy.config.core.v3.TypedExtensionConfig";

    /// <summary>
    /// The order of one push over ADS: clusters, then their endpoints, then the listeners that use
    /// them, then routes (make before break; xDS protocol "eventual consistency considerations").
    /// </summary>
    public static IReadOnlyList<string> PushOrder { get; } = [Cluster, Endpoint, Listener, Route, ExtensionConfig];

    /// <summary>State-of-the-world responses for these types carry every subscribed resource (omission = deletion).</summary>
    public static bool IsFullState(string typeUrl) => typeUrl is Cluster or Listener;

    public static bool IsKnown(string typeUrl) => PushOrder.Contains(typeUrl);
}
