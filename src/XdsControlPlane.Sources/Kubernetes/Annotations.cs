namespace XdsControlPlane.Sources.Kubernetes;

/// <summary>The annotations and labels the nodeport-proxy reads. KKP's own, then ours on the Seed and Cluster.</summary>
public static class Annotations
{
    /// <summary>KKP: comma list of NodePort, SNI, Tunneling (legacy "true" = NodePort). The key is configurable.</summary>
    public const string DefaultExposeKey = "nodeport-proxy.k8s.io/expose";

    /// <summary>KKP: JSON object, Service port name → SNI hostname.</summary>
    public const string PortMapping = "nodeport-proxy.k8s.io/port-mapping";

    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>Seed: the provider whose load balancer fronts the nodeport-proxy (aws, azure, gcp, openstack, hetzner, ...).</summary>
    public const string CloudProvider = "nodeport-proxy.k8s.io/cloud-provider";

    /// <summary>Seed: "true"/"false", overrides the provider's default.</summary>
    public const string SourceIpPreserved = "nodeport-proxy.k8s.io/source-ip-preserved";

    /// <summary>Seed: "true" to read the client address from the load balancer's PROXY protocol header.</summary>
    public const string ProxyProtocol = "nodeport-proxy.k8s.io/proxy-protocol";

    /// <summary>Seed: comma list of the load balancer's CIDRs, the only peers whose PROXY header is believed.</summary>
    public const string ProxyProtocolTrustedRanges = "nodeport-proxy.k8s.io/proxy-protocol-trusted-ranges";

    /// <summary>Seed: "report-open" (default) or "deny-all" when allowlists cannot be enforced.</summary>
    public const string UnenforceableAllowlist = "nodeport-proxy.k8s.io/unenforceable-allowlist";

    /// <summary>Seed: "ads" (default) or "grpc" (KKP's stock bootstrap with separate LDS/CDS streams).</summary>
    public const string ConfigSource = "nodeport-proxy.k8s.io/config-source";

    /// <summary>Seed: "ecds" (default: allowlist edits re-send one TypedExtensionConfig) or "inline" (RBAC inside each chain).</summary>
    public const string RbacDelivery = "nodeport-proxy.k8s.io/rbac-delivery";

    /// <summary>Seed: the cap on the life of a restricted tenant's connections (see SeedSettings.MaxConnectionDuration), e.g. "1h", "90m", "3600s"; "0" for none.</summary>
    public const string MaxConnectionDuration = "nodeport-proxy.k8s.io/max-connection-duration";

    /// <summary>Cluster: "enforce" (default) or "dry-run" (shadow rules: counted, not enforced).</summary>
    public const string AllowlistMode = "nodeport-proxy.k8s.io/allowlist-mode";
}
