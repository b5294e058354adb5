using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes;

/// <summary>
/// The fields of KKP's <c>kubermatic.k8c.io/v1</c> <c>Cluster</c> that the nodeport-proxy needs. Fields we do not
/// use are ignored when reading, so real objects from a seed parse as they are.
/// </summary>
public sealed class KkpCluster : IKubernetesObject<V1ObjectMeta>
{
    public const string Group = "kubermatic.k8c.io";
    public const string Version = "v1";
    public const string Plural = "clusters";
    public const string KindName = "Cluster";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = $"{Group}/{Version}";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KindName;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public KkpClusterSpec? Spec { get; set; }
}

public sealed class KkpClusterSpec
{
    [JsonPropertyName("exposeStrategy")]
    public string? ExposeStrategy { get; set; }

    [JsonPropertyName("apiServerAllowedIPRanges")]
    public KkpNetworkRanges? ApiServerAllowedIPRanges { get; set; }

    [JsonPropertyName("cloud")]
    public KkpCloudSpec? Cloud { get; set; }

    [JsonPropertyName("humanReadableName")]
    public string? HumanReadableName { get; set; }
}

public sealed class KkpNetworkRanges
{
    [JsonPropertyName("cidrBlocks")]
    public List<string>? CidrBlocks { get; set; }
}

/// <summary><c>spec.cloud</c>: <c>providerName</c>, <c>dc</c>, and one block named after the provider.</summary>
public sealed class KkpCloudSpec
{
    [JsonPropertyName("dc")]
    public string? DatacenterName { get; set; }

    [JsonPropertyName("providerName")]
    public string? ProviderName { get; set; }

    /// <summary>The provider blocks (<c>aws: {...}</c>, <c>openstack: {...}</c>, ...), kept as they are.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ProviderBlocks { get; set; }
}

/// <summary>The fields of KKP's <c>Seed</c> that the nodeport-proxy needs.</summary>
public sealed class KkpSeed : IKubernetesObject<V1ObjectMeta>
{
    public const string Plural = "seeds";
    public const string KindName = "Seed";

    [JsonPropertyName("apiVersion")]
    public string ApiVersion { get; set; } = $"{KkpCluster.Group}/{KkpCluster.Version}";

    [JsonPropertyName("kind")]
    public string Kind { get; set; } = KindName;

    [JsonPropertyName("metadata")]
    public V1ObjectMeta Metadata { get; set; } = new();

    [JsonPropertyName("spec")]
    public KkpSeedSpec? Spec { get; set; }
}

public sealed class KkpSeedSpec
{
    [JsonPropertyName("defaultAPIServerAllowedIPRanges")]
    public List<string>? DefaultAPIServerAllowedIPRanges { get; set; }

    [JsonPropertyName("seedDNSOverwrite")]
    public string? SeedDnsOverwrite { get; set; }
}
