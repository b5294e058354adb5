using System.Text.Json;
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

public sealed class KkpClusterSpec
{
    [JsonPropertyName("exposeStrategy")]
    public string? ExposeStrategy { get; set; }

    [JsonPropertyName("apiServerAllowedIPRanges")]
    public KkpNetworkRanges? ApiServerAllowedIPRanges { get; set; }

    [JsonPropertyName("cloud")]
    public KkpCloudSpec? Cloud { get; set; }

    [JsonPropertyName("humanReadableName")]
    public string? HumanReadableName { get; set; }
}

public sealed class KkpNetworkRanges
{
    [JsonPropertyName("cidrBlocks")]
    public List<string>? CidrBlocks { get; set; }
}

/// <summary><c>spec.cloud</c>: <c>providerName</c>, <c>dc</c>, and one block named after the provider.</summary>
public sealed class KkpCloudSpec
{
    [JsonPropertyName("dc")]
    public string? DatacenterName { get; set; }

    [JsonPropertyName("providerName")]
    public string? ProviderName { get; set; }

    /// <summary>The provider blocks (<c>aws: {...}</c>, <c>openstack: {...}</c>, ...), kept as they are.</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ProviderBlocks { get; set; }
}

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

public sealed class KkpSeedSpec
{
    [JsonPropertyName("defaultAPIServerAllowedIPRanges")]
    public List<string>? DefaultAPIServerAllowedIPRanges { get; set; }

    [JsonPropertyName("seedDNSOverwrite")]
    public string? SeedDnsOverwrite { get; set; }

    /// <summary><c>spec.datacenters</c>: the seed's datacenters by name; each names its provider by the block it has.</summary>
    [JsonPropertyName("datacenters")]
    public Dictionary<string, KkpDatacenter>? Datacenters { get; set; }
}

public sealed class KkpDatacenter
{
    [JsonPropertyName("spec")]
    public KkpDatacenterSpec? Spec { get; set; }
}

/// <summary>
/// A datacenter's <c>spec</c>: KKP gives it exactly one provider block (<c>aws: {...}</c>, <c>gcp: {...}</c>, ...) among
/// other settings. The blocks are read only for their presence, as maps, so both the JSON and the YAML reader fill them.
/// Each property's name camel-cased is its key (the YAML reader goes by that, not by the JSON attribute).
/// </summary>
public sealed class KkpDatacenterSpec
{
    [JsonPropertyName("alibaba")] public Dictionary<string, object?>? Alibaba { get; set; }
    [JsonPropertyName("anexia")] public Dictionary<string, object?>? Anexia { get; set; }
    [JsonPropertyName("aws")] public Dictionary<string, object?>? Aws { get; set; }
    [JsonPropertyName("azure")] public Dictionary<string, object?>? Azure { get; set; }
    [JsonPropertyName("baremetal")] public Dictionary<string, object?>? Baremetal { get; set; }
    [JsonPropertyName("bringyourown")] public Dictionary<string, object?>? Bringyourown { get; set; }
    [JsonPropertyName("digitalocean")] public Dictionary<string, object?>? Digitalocean { get; set; }
    [JsonPropertyName("edge")] public Dictionary<string, object?>? Edge { get; set; }
    [JsonPropertyName("gcp")] public Dictionary<string, object?>? Gcp { get; set; }
    [JsonPropertyName("hetzner")] public Dictionary<string, object?>? Hetzner { get; set; }
    [JsonPropertyName("kubevirt")] public Dictionary<string, object?>? Kubevirt { get; set; }
    [JsonPropertyName("nutanix")] public Dictionary<string, object?>? Nutanix { get; set; }
    [JsonPropertyName("openstack")] public Dictionary<string, object?>? Openstack { get; set; }
    [JsonPropertyName("vmwareclouddirector")] public Dictionary<string, object?>? Vmwareclouddirector { get; set; }
    [JsonPropertyName("vsphere")] public Dictionary<string, object?>? Vsphere { get; set; }

    /// <summary>The provider names (KKP's spelling) of the blocks present, sorted.</summary>
    public IReadOnlyList<string> ProviderBlockNames()
    {
        (string Name, object? Block)[] blocks =
        [
            ("alibaba", Alibaba), ("anexia", Anexia), ("aws", Aws), ("azure", Azure), ("baremetal", Baremetal),
            ("bringyourown", Bringyourown), ("digitalocean", Digitalocean), ("edge", Edge), ("gcp", Gcp), ("hetzner", Hetzner),
            ("kubevirt", Kubevirt), ("nutanix", Nutanix), ("openstack", Openstack), ("vmwareclouddirector", Vmwareclouddirector),
            ("vsphere", Vsphere),
        ];
        return blocks.Where(b => b.Block is not null).Select(b => b.Name).ToList();
    }
}
