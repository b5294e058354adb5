using k8s;
using k8s.Models;
using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Benchmarks.Folder;

/// <summary>
/// The folder source's reader before the per-file cache (kept verbatim as the baseline): every read parses every
/// file, each document through KubernetesClient's <c>KubernetesYaml</c>. Also compiled into the Sources tests
/// (linked), which check that the new reader produces the same objects.
/// </summary>
public static class LegacyFolderLoader
{
    private static readonly Dictionary<string, Type> TypeMap = new(StringComparer.Ordinal)
    {
        [$"{KkpCluster.Group}/{KkpCluster.Version}/{KkpCluster.KindName}"] = typeof(KkpCluster),
        [$"{KkpCluster.Group}/{KkpCluster.Version}/{KkpSeed.KindName}"] = typeof(KkpSeed),
        ["v1/Service"] = typeof(V1Service),
        ["discovery.k8s.io/v1/EndpointSlice"] = typeof(V1EndpointSlice),
    };

    /// <summary>Reads the whole folder; throws on the first file that is not Kubernetes YAML.</summary>
    public static SeedInventory Load(string folder)
    {
        var files = Directory.EnumerateFiles(folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        var seeds = new List<KkpSeed>();
        var clusters = new List<KkpCluster>();
        var services = new List<V1Service>();
        var slices = new List<V1EndpointSlice>();
        foreach (var file in files)
        {
            foreach (var obj in ParseManifests(File.ReadAllText(file)))
            {
                switch (obj)
                {
                    case KkpSeed seed:
                        seeds.Add(seed);
                        break;
                    case KkpCluster cluster:
                        clusters.Add(cluster);
                        break;
                    case V1Service service:
                        services.Add(service);
                        break;
                    case V1EndpointSlice slice:
                        slices.Add(slice);
                        break;
                }
            }
        }
        return new SeedInventory(seeds, clusters, services, slices);
    }

    public static List<object> ParseManifests(string yaml)
    {
        var result = new List<object>();
        foreach (var document in SplitDocuments(yaml))
        {
            var header = KubernetesYaml.Deserialize<KubernetesObjectHeader>(document);
            if (header is null)
            {
                continue; // an empty document
            }
            if (string.IsNullOrEmpty(header.ApiVersion) || string.IsNullOrEmpty(header.Kind))
            {
                throw new FormatException("a document has no apiVersion or kind");
            }
            if (!TypeMap.ContainsKey($"{header.ApiVersion}/{header.Kind}"))
            {
                continue;
            }
            result.AddRange(KubernetesYaml.LoadAllFromString(document, TypeMap));
        }
        return result;
    }

    private static List<string> SplitDocuments(string yaml)
    {
        var parser = new YamlDotNet.Core.Parser(new StringReader(yaml));
        var documents = new List<string>();
        var lines = yaml.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var current = new System.Text.StringBuilder();
        foreach (var line in lines)
        {
            if (line.StartsWith("---", StringComparison.Ordinal) && (line.Length == 3 || char.IsWhiteSpace(line[3])))
            {
                if (current.ToString().Trim().Length > 0)
                {
                    documents.Add(current.ToString());
                }
                current.Clear();
                continue;
            }
            current.Append(line).Append('\n');
        }
        if (current.ToString().Trim().Length > 0)
        {
            documents.Add(current.ToString());
        }
        while (parser.MoveNext())
        {
        }
        return documents;
    }

    private sealed class KubernetesObjectHeader
    {
        [System.Text.Json.Serialization.JsonPropertyName("apiVersion")]
        public string? ApiVersion { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("kind")]
        public string? Kind { get; set; }
    }
}
