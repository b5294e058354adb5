using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Translation;
using XdsControlPlane.Xds;

namespace XdsControlPlane.Benchmarks.HostMemory;

/// <summary>
/// What the host holds per tenant, layer by layer, built in this process the way the host builds it (folder source →
/// translation → pipeline → snapshot cache) and measured as the live managed heap after full blocking collections
/// (GC.GetTotalMemory(true)) before and after each layer, every layer kept reachable as the host keeps it. Two sizes,
/// so the per-tenant figure is the slope between them (the fixed part cancels).
/// </summary>
internal static class LayerBreakdown
{
    private sealed record Layers(long Source, long Model, long Compiled, long Payload, long Encoded, long Total, int Tenants, int Resources);

    public static void Run(string root, int[] sizes)
    {
        var results = new List<Layers>();
        foreach (var tenants in sizes)
        {
            var folder = Path.Combine(root, $"breakdown-{tenants}");
            Folder.SyntheticFolder.Write(folder, tenants);
            results.Add(Measure(folder, tenants));
            Directory.Delete(folder, recursive: true);
        }
        Console.WriteLine("Per-tenant breakdown: live managed bytes after full collections, each layer built as the host builds it and kept reachable " +
            "(in this process; MB = 10^6 bytes; per tenant = the slope between the two sizes):");
        Console.WriteLine($"| layer | {string.Join(" | ", results.Select(r => $"{r.Tenants:N0} tenants"))} | per tenant |");
        Console.WriteLine($"|---|{string.Concat(results.Select(_ => "--:|"))}--:|");
        Line("folder source: parsed objects kept per file", r => r.Source);
        Line("translated model (tenants, CIDR sets)", r => r.Model);
        Line("compiled: resource bytes in the snapshot", r => r.Payload);
        Line("compiled: artifacts, indexes, claims (the rest)", r => r.Compiled - r.Payload);
        Line("shared listeners encoded for the first stream", r => r.Encoded);
        Line("total", r => r.Total);
        Console.WriteLine($"(resources in the snapshot: {string.Join(", ", results.Select(r => r.Resources.ToString("N0", CultureInfo.InvariantCulture)))})");
        Console.WriteLine();

        void Line(string name, Func<Layers, long> value)
        {
            var (first, last) = (results[0], results[^1]);
            var slope = last.Tenants == first.Tenants ? value(last) / (double)last.Tenants : (value(last) - value(first)) / (double)(last.Tenants - first.Tenants);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {string.Join(" | ", results.Select(r => $"{value(r) / 1e6:F1} MB"))} | {slope / 1e3:F1} KB |"));
        }
    }

    private static Layers Measure(string folder, int tenants)
    {
        var before = Live();
        var source = new FolderSource(folder, NullLogger<FolderSource>.Instance);
        // In methods of their own: what the host does not keep (the inventory view, the translation result) is out of
        // reach when the next layer is measured.
        var (translated, afterSource) = LoadAndTranslate(source);
        var afterModel = Live();
        var (pipeline, cache) = Apply(translated);
        var afterCompile = Live();
        var resources = cache.Current.Snapshot.ByType.Values.SelectMany(s => s.Resources.Values).ToList();
        // Bytes of every resource but the lazily encoded shared listeners (encoded when first sent, below).
        var lazy = resources.Where(r => !IsEncoded(r)).ToList();
        var payload = resources.Except(lazy).Sum(r => (long)r.Bytes.Length);
        foreach (var resource in lazy)
        {
            _ = resource.AsAny();
        }
        var afterEncode = Live();
        GC.KeepAlive(source);
        GC.KeepAlive(pipeline);
        return new Layers(afterSource - before, afterModel - afterSource, afterCompile - afterModel, payload, afterEncode - afterCompile,
            afterEncode - before, tenants, resources.Count);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (TranslationResult Translated, long AfterSource) LoadAndTranslate(FolderSource source)
    {
        var load = source.Load();
        var inventory = load.Inventory ?? throw new InvalidOperationException(string.Join("; ", load.Diagnostics));
        var afterSource = Live();
        return (InventoryTranslator.Translate(inventory), afterSource);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static (ConfigPipeline Pipeline, SnapshotCache Cache) Apply(TranslationResult translated)
    {
        var cache = new SnapshotCache();
        var pipeline = new ConfigPipeline(s => cache.TrySetSnapshot(s, out var problems) ? [] : problems, NullLogger<ConfigPipeline>.Instance)
        {
            RevocationDelay = TimeSpan.FromHours(1),
        };
        var outcome = pipeline.Apply(new PipelineInput(translated.Seed, translated.Tenants, translated.FailedTenants, translated.Diagnostics));
        return outcome.Applied ? (pipeline, cache) : throw new InvalidOperationException(outcome.RejectedBecause);
    }

    /// <summary>Whether the resource holds its bytes already (the shared listeners produce theirs on first use).</summary>
    private static bool IsEncoded(Snapshots.EnvoyResource resource) =>
        typeof(Snapshots.EnvoyResource).GetField("_bytes", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!
            .GetValue(resource) is not null;

    private static long Live()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
