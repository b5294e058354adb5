using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes;

/// <summary>
/// Every Kubernetes object the translation reads, as a source last saw them. Both the folder source
/// and the API-server source fill one of these, so both go through the same translation.
/// </summary>
public sealed record SeedInventory(
    IReadOnlyList<KkpSeed> Seeds,
    IReadOnlyList<KkpCluster> Clusters,
    IReadOnlyList<V1Service> Services,
    IReadOnlyList<V1EndpointSlice> EndpointSlices)
{
    public static SeedInventory Empty { get; } = new([], [], [], []);
}
