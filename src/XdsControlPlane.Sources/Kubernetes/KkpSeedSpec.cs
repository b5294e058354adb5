using System.Text.Json.Serialization;

namespace XdsControlPlane.Sources.Kubernetes;

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
