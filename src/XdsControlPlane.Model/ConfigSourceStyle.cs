namespace XdsControlPlane.Model;

/// <summary>Seed-wide settings: how the shared proxy is reached and what every tenant list gains.</summary>
/// <summary>How Envoy fetches the endpoints and routes that listeners and clusters refer to.</summary>
public enum ConfigSourceStyle
{
    /// <summary><c>ads: {}</c>: everything on one ADS stream (envoy-config/envoy-ads.yaml).</summary>
    Ads,

    /// <summary>A gRPC stream per type to the bootstrap's <c>xds_cluster</c> (KKP's stock bootstrap).</summary>
    Grpc,
}
