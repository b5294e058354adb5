namespace XdsControlPlane.Model;

/// <summary>KKP's <c>Cluster.spec.exposeStrategy</c>.</summary>
public enum ExposeStrategy
{
    NodePort,
    Tunneling,
    LoadBalancer,
}
