using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

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
