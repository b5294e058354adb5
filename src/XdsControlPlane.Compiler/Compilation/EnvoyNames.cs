
namespace XdsControlPlane.Compiler.Compilation;

/// <summary>Envoy's well-known extension names and the resource names KKP's envoy-manager uses.</summary>
internal static class EnvoyNames
{
    public const string TcpProxy = "envoy.filters.network.tcp_proxy";
    public const string NetworkRbac = "envoy.filters.network.rbac";
    public const string HttpConnectionManager = "envoy.filters.network.http_connection_manager";
    public const string TlsInspector = "envoy.filters.listener.tls_inspector";
    public const string ProxyProtocol = "envoy.filters.listener.proxy_protocol";
    public const string HttpRbac = "envoy.filters.http.rbac";
    public const string Router = "envoy.filters.http.router";
    public const string HealthCheck = "envoy.filters.http.health_check";
    public const string SourceIpInput = "envoy.matching.inputs.source_ip";
    public const string DirectSourceIpInput = "envoy.matching.inputs.direct_source_ip";
    public const string IpMatcher = "envoy.matching.matchers.ip";
    public const string RbacAction = "envoy.filters.rbac.action";

    public const string SniListener = "sni_listener";
    public const string TunnelingListener = "tunneling_listener";
    public const string TunnelingRoute = "http2_connect";

    /// <summary>The tunneling HCM's scoped routes: one scope (and one RouteConfiguration) per tenant namespace.</summary>
    public const string TunnelingScopes = "http2_connect_scopes";

    /// <summary>
    /// A tenant's own tunneling RouteConfiguration (and its scope), named after envoy-manager's single
    /// <c>http2_connect</c>: one tenant's change re-sends only this small resource, never every tenant's routes.
    /// </summary>
    public static string TunnelingRouteFor(string ns) => $"{TunnelingRoute}/{ns}";
    public const string StatsListener = "service_stats";
    public const string StatsCluster = "service_stats";
    public const string TcpStatPrefix = "ingress_tcp";
    public const string HttpStatPrefix = "ingress_http";
    public const string ConnectUpgrade = "CONNECT";

    /// <summary>envoy-manager's name for a listener, cluster, chain or virtual host of one Service port.</summary>
    public static string ServicePortKey(string ns, string service, string port) => $"{ns}/{service}-{port}";

    /// <summary>The tunneling authority an agent sends for a Service port.</summary>
    public static string TunnelingAuthority(string ns, string service, int port) => $"{service}.{ns}.svc.cluster.local:{port}";

    /// <summary>A stat prefix per tenant so that allowed/denied connections are countable per tenant.</summary>
    public static string TenantStatPrefix(string tenantId, string path) => $"tenant.{Sanitize(tenantId)}.{path}.";

    /// <summary>The type a tenant's ECDS filter accepts.</summary>
    public const string NetworkRbacTypeUrl = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

    /// <summary>
    /// The ECDS name of a tenant's network RBAC for one path ("sni", "nodeport"): unique per tenant and path
    /// (the raw id: unlike stat names, resource names must never collide), and carrying the tenant's revocation
    /// generation, so a narrowing renames the filter (and so changes only that tenant's chains) while a widening
    /// re-sends only the TypedExtensionConfig under the same name.
    /// </summary>
    public static string EcdsRbac(string tenantId, string path, string generation) => $"rbac.tenant.{tenantId}.{path}.r{generation}";

    // Envoy stat names use '.' as a separator; keep tenant ids from adding levels.
    private static string Sanitize(string id) => id.Replace('.', '_');
}
