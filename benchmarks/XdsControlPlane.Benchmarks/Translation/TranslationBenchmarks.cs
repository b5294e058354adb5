using BenchmarkDotNet.Attributes;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Benchmarks.Translation;

/// <summary>
/// Translation alone, for one tenant's allowlist edited (its Cluster, Services and EndpointSlices handed over again, as
/// the folder source does for its file): the baseline translates every object (<see cref="InventoryTranslator.Translate"/>,
/// as every change did before), the incremental translator only that tenant. Objects of <see cref="SyntheticFolder"/>.
/// </summary>
public class TranslationBenchmarks
{
    private const int EditedTenant = 4321;

    private readonly SeedInventory[] _inventories = new SeedInventory[2];
    private readonly ObjectChange[][] _changes = new ObjectChange[2][];
    private IncrementalTranslator _translator = null!;
    private int _edits;

    [Params(100, 1_000, 10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var files = new SortedDictionary<string, IReadOnlyList<object>>(StringComparer.Ordinal)
        {
            ["seed.yaml"] = FolderSource.ParseManifests(SyntheticFolder.SeedManifest()),
        };
        for (var i = 0; i < Tenants; i++)
        {
            files[SyntheticFolder.TenantFile(i)] = FolderSource.ParseManifests(SyntheticFolder.TenantManifests(i, SyntheticFolder.RandomRanges(random, 20)));
        }
        var edited = SyntheticFolder.TenantFile(EditedTenant % Tenants);
        _translator = new IncrementalTranslator();
        _translator.Apply(files.SelectMany(f => f.Value.Select((o, i) => new ObjectChange(FolderSource.ObjectKey(f.Key, i), o))));
        _translator.Translate();
        for (var v = 0; v < 2; v++)
        {
            // Two versions of the edited file, alternated: each edit is a real change.
            var objects = FolderSource.ParseManifests(SyntheticFolder.TenantManifests(EditedTenant % Tenants, SyntheticFolder.RandomRanges(new Random(v), 20)));
            _changes[v] = [.. objects.Select((o, i) => new ObjectChange(FolderSource.ObjectKey(edited, i), o))];
            files[edited] = objects;
            var all = files.Values.SelectMany(o => o).ToList();
            _inventories[v] = new SeedInventory([.. all.OfType<KkpSeed>()], [.. all.OfType<KkpCluster>()],
                [.. all.OfType<k8s.Models.V1Service>()], [.. all.OfType<k8s.Models.V1EndpointSlice>()]);
        }
    }

    [Benchmark(Baseline = true, Description = "one tenant edited: full Translate")]
    public TranslationResult Full() => InventoryTranslator.Translate(_inventories[++_edits % 2]);

    [Benchmark(Description = "one tenant edited: IncrementalTranslator")]
    public TranslationResult Incremental()
    {
        _translator.Apply(_changes[++_edits % 2]);
        return _translator.Translate();
    }
}
