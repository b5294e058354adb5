using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes;

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
