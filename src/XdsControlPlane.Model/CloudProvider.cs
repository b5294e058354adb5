namespace XdsControlPlane.Model;

/// <summary>The cloud provider whose load balancer fronts the nodeport-proxy.</summary>
public enum CloudProvider
{
    /// <summary>Not stated: the source address cannot be assumed to survive the load balancer.</summary>
    Unspecified,
    Aws,
    Azure,
    Gcp,
    OpenStack,
    Hetzner,
    DigitalOcean,
    VSphere,
    KubeVirt,
    Nutanix,
    Vcd,
    Alibaba,
    Anexia,
    EquinixMetal,
    BringYourOwn,
    Edge,
}
