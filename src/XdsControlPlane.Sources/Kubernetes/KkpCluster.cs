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
