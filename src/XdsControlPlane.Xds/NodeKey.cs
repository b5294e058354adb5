namespace XdsControlPlane.Xds;

/// <summary>
/// Who a node is for the cache: Envoy's <c>node.id</c> plus <c>node.cluster</c>. Today every node gets the
/// same snapshot; the key is kept so node groups can be served different snapshots later.
/// </summary>
public readonly record struct NodeKey(string Id, string Cluster)
{
    public override string ToString() => Cluster.Length == 0 ? Id : $"{Id}/{Cluster}";
}
