using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Benchmarks.Folder;

/// <summary>
/// The folder source on a synthetic seed (<see cref="SyntheticFolder"/>; 10,000 tenants = 25 MB, 58,000 objects).
/// FirstRead: start-up, every file parsed; the baseline is the reader before the per-file cache (KubernetesYaml).
/// OneFileEdit: one tenant's allowlist edited in its file, then the folder read again; the baseline reads it all
/// again as the old reader did, the new source re-reads the one changed file. Goals (issue 13): first read of
/// 10,000 tenants ≤ 2 s of parsing, an edit ≤ 0.5 s end to end (of which this is the folder side).
/// </summary>
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
public class FolderSourceBenchmarks
{
    private const int EditedTenant = 4321;

    private string _folder = "";
    private FolderSource? _warm;
    private int _edits;

    [Params(1_000, 10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"xds-folder-bench-{Tenants}-{Environment.ProcessId}");
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
        SyntheticFolder.Write(_folder, Tenants);
        _warm = new FolderSource(_folder, NullLogger<FolderSource>.Instance);
        if (_warm.Load().Inventory?.Clusters.Count != Tenants)
        {
            throw new InvalidOperationException("the synthetic folder did not read back");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Baseline = true, Description = "KubernetesYaml, whole folder")]
    [BenchmarkCategory("FirstRead")]
    public SeedInventory FirstRead_Legacy() => LegacyFolderLoader.Load(_folder);

    [Benchmark(Description = "FolderSource, cold")]
    [BenchmarkCategory("FirstRead")]
    public SeedInventory? FirstRead() => new FolderSource(_folder, NullLogger<FolderSource>.Instance).Load().Inventory;

    [Benchmark(Description = "FolderSource, cold, one thread")]
    [BenchmarkCategory("FirstRead")]
    public SeedInventory? FirstRead_OneThread() =>
        new FolderSource(_folder, NullLogger<FolderSource>.Instance) { MaxParallelism = 1 }.Load().Inventory;

    [Benchmark(Baseline = true, Description = "edit + KubernetesYaml, whole folder")]
    [BenchmarkCategory("OneFileEdit")]
    public SeedInventory OneFileEdit_FullReread()
    {
        EditOneFile();
        return LegacyFolderLoader.Load(_folder);
    }

    [Benchmark(Description = "edit + FolderSource, incremental")]
    [BenchmarkCategory("OneFileEdit")]
    public SeedInventory? OneFileEdit_Incremental()
    {
        EditOneFile();
        return _warm!.Load().Inventory;
    }

    [Benchmark(Description = "edit + FolderSource, the file named (watcher)")]
    [BenchmarkCategory("OneFileEdit")]
    public IReadOnlyList<Sources.Translation.ObjectChange> OneFileEdit_NamedPath()
    {
        EditOneFile();
        return _warm!.Load([Path.Combine(_folder, SyntheticFolder.TenantFile(EditedTenant % Tenants))]).Changes;
    }

    /// <summary>Rewrites one tenant's file with another allowlist of the same length.</summary>
    private void EditOneFile()
    {
        var ranges = SyntheticFolder.RandomRanges(new Random(++_edits), 20);
        File.WriteAllText(Path.Combine(_folder, SyntheticFolder.TenantFile(EditedTenant % Tenants)), SyntheticFolder.TenantManifests(EditedTenant % Tenants, ranges));
    }
}
