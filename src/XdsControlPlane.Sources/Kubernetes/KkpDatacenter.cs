using System.Text.Json;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes;

public sealed class KkpDatacenter
{
    [JsonPropertyName("spec")]
    public KkpDatacenterSpec? Spec { get; set; }
}
