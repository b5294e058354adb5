using System.Text.Json.Serialization;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>A list of custom objects as the API server returns it (<c>kind: ClusterList</c>, ...).</summary>
public sealed class CustomObjectList<T>
{
    [JsonPropertyName("apiVersion")]
    public string? ApiVersion { get; set; }

    [JsonPropertyName("kind")]
    public string? Kind { get; set; }

    [JsonPropertyName("metadata")]
    public V1ListMeta? Metadata { get; set; }

    [JsonPropertyName("items")]
    public List<T>? Items { get; set; }
}
