using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Sources.Folder;

/// <summary>What one read of the folder produced.</summary>
/// <param name="Inventory">The objects, or null when a file could not be read: then nothing may be applied.</param>
public sealed record FolderLoadResult(SeedInventory? Inventory, IReadOnlyList<Diagnostic> Diagnostics, IReadOnlyList<string> Files);

/// <summary>
/// The embedded default source: a folder of Kubernetes YAML manifests (KKP Seed and Cluster objects,
/// Services and EndpointSlices), re-read whenever a file in it changes.
/// </summary>
public sealed partial class FolderSource(string folder, ILogger<FolderSource> logger)
{
    private static readonly Dictionary<string, Type> TypeMap = new(StringComparer.Ordinal)
    {
        [$"{KkpCluster.Group}/{KkpCluster.Version}/{KkpCluster.KindName}"] = typeof(KkpCluster),
        [$"{KkpCluster.Group}/{KkpCluster.Version}/{KkpSeed.KindName}"] = typeof(KkpSeed),
        ["v1/Service"] = typeof(V1Service),
        ["discovery.k8s.io/v1/EndpointSlice"] = typeof(V1EndpointSlice),
    };

    public string Folder { get; } = Path.GetFullPath(folder);

    public FolderLoadResult Load()
    {
        var diagnostics = new List<Diagnostic>();
        if (!Directory.Exists(Folder))
        {
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "FolderMissing", Folder, "", "the input folder does not exist; create it or pass another with --input"));
            return new FolderLoadResult(null, diagnostics, []);
        }
        var files = Directory.EnumerateFiles(Folder, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        var seeds = new List<KkpSeed>();
        var clusters = new List<KkpCluster>();
        var services = new List<V1Service>();
        var slices = new List<V1EndpointSlice>();
        var ok = true;
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(Folder, file);
            List<object> objects;
            try
            {
                objects = ParseManifests(File.ReadAllText(file));
            }
            catch (Exception e) when (e is YamlDotNet.Core.YamlException or FormatException or InvalidOperationException or ArgumentException or KeyNotFoundException)
            {
                ok = false;
                diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "InvalidManifest", relative, "",
                    $"cannot read the file as Kubernetes YAML: {FirstLine(e)}; fix it (the last good configuration stays in force)"));
                continue;
            }
            foreach (var obj in objects)
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
        LogLoaded(logger, Folder, files.Count, seeds.Count, clusters.Count, services.Count, slices.Count);
        return new FolderLoadResult(ok ? new SeedInventory(seeds, clusters, services, slices) : null, diagnostics, files);
    }

    /// <summary>Reads every document; kinds we do not use are skipped rather than refused.</summary>
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

    private static IEnumerable<string> SplitDocuments(string yaml)
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
        // Validate the whole stream once so that a syntax error names itself even in a skipped kind.
        while (parser.MoveNext())
        {
        }
        return documents;
    }

    /// <summary>Calls <paramref name="onChange"/> (debounced) whenever a manifest in the folder changes.</summary>
    public async Task WatchAsync(Func<Task> onChange, TimeSpan debounce, CancellationToken cancellationToken)
    {
        var signal = new SemaphoreSlim(0);
        using var watcher = new FileSystemWatcher(Folder) { IncludeSubdirectories = true, EnableRaisingEvents = true };
        void Notify(object? sender, FileSystemEventArgs e) => signal.Release();
        watcher.Changed += Notify;
        watcher.Created += Notify;
        watcher.Deleted += Notify;
        watcher.Renamed += (s, e) => signal.Release();
        while (!cancellationToken.IsCancellationRequested)
        {
            await signal.WaitAsync(cancellationToken);
            // Editors write in bursts (truncate, write, rename): wait for quiet before reading.
            while (await signal.WaitAsync(debounce, cancellationToken))
            {
            }
            LogChanged(logger, Folder);
            await onChange();
        }
    }

    private static string FirstLine(Exception e) => e switch
    {
        YamlDotNet.Core.YamlException y => $"line {y.Start.Line}, column {y.Start.Column}: {(y.InnerException?.Message ?? y.Message).Split('\n')[0].Trim()}",
        _ => (e.InnerException?.Message ?? e.Message).Split('\n')[0].Trim(),
    };

    private sealed class KubernetesObjectHeader
    {
        [System.Text.Json.Serialization.JsonPropertyName("apiVersion")]
        public string? ApiVersion { get; set; }

        [System.Text.Json.Serialization.JsonPropertyName("kind")]
        public string? Kind { get; set; }
    }

    [LoggerMessage(EventId = 100, EventName = "FolderLoaded", Level = LogLevel.Information,
        Message = "Read {Folder}: {Files} files, {Seeds} seeds, {Clusters} clusters, {Services} services, {Slices} endpoint slices")]
    private static partial void LogLoaded(ILogger logger, string folder, int files, int seeds, int clusters, int services, int slices);

    [LoggerMessage(EventId = 101, EventName = "FolderChanged", Level = LogLevel.Information, Message = "Manifests in {Folder} changed; re-reading")]
    private static partial void LogChanged(ILogger logger, string folder);
}
