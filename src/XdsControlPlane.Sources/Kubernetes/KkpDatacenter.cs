using System.Text.Json.Serialization;

namespace XdsControlPlane.Sources.Kubernetes;

public sealed class KkpDatacenter
{
    [JsonPropertyName("spec")]
    public KkpDatacenterSpec? Spec { get; set; }
}
