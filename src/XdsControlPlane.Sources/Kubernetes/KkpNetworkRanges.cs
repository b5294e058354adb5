using System.Text.Json.Serialization;

namespace XdsControlPlane.Sources.Kubernetes;

public sealed class KkpNetworkRanges
{
    [JsonPropertyName("cidrBlocks")]
    public List<string>? CidrBlocks { get; set; }
}
