using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes;

public sealed class KkpNetworkRanges
{
    [JsonPropertyName("cidrBlocks")]
    public List<string>? CidrBlocks { get; set; }
}
