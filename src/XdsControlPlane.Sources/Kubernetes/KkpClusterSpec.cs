using System.Text.Json.Serialization;

namespace XdsControlPlane.Sources.Kubernetes;

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
