using System.Text.Json.Serialization;

namespace XdsControlPlane.Sources.Kubernetes;

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
