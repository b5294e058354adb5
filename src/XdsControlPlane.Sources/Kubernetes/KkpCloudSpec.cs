using System.Text.Json;
using System.Text.Json.Serialization;

namespace XdsControlPlane.Sources.Kubernetes;

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
