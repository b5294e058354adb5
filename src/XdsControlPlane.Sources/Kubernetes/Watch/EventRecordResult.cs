namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>What one <see cref="ClusterEventRecorder.RecordAsync"/> call did.</summary>
/// <param name="NoClusterObject">Tenant diagnostics whose tenant has no Cluster object to carry an Event.</param>
public sealed record EventRecordResult(int Created, int Updated, int Unchanged, int NoClusterObject, int Failed);
