using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>Runs the real pipeline (folder → translation → compiler) on test input.</summary>
public sealed class TestPipeline
{
    public List<Snapshot> Published { get; } = [];

    public ConfigPipeline Pipeline { get; }

    /// <summary>Publishes as the snapshot cache does: only a consistent snapshot.</summary>
    public TestPipeline() => Pipeline = new ConfigPipeline(s =>
    {
        var problems = SnapshotConsistency.Check(s);
        if (problems.Count == 0)
        {
            Published.Add(s);
        }
        return problems;
    }, NullLogger<ConfigPipeline>.Instance);

    public static PipelineInput ToInput(TranslationResult result) => new(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics);

    public ApplyOutcome ApplyFolder(string folder)
    {
        var load = new FolderSource(folder, NullLogger<FolderSource>.Instance).Load();
        if (load.Inventory is null)
        {
            return new ApplyOutcome(false, Pipeline.Current, load.Diagnostics, TimeSpan.Zero, "folder unreadable");
        }
        var result = InventoryTranslator.Translate(load.Inventory);
        return Pipeline.Apply(ToInput(result) with { Diagnostics = load.Diagnostics.Concat(result.Diagnostics).ToList() });
    }

    public ApplyOutcome ApplyYaml(string yaml) => Apply(Inventory(yaml));

    public ApplyOutcome Apply(SeedInventory inventory) => Pipeline.Apply(ToInput(InventoryTranslator.Translate(inventory)));

    public static SeedInventory Inventory(string yaml)
    {
        var objects = FolderSource.ParseManifests(yaml);
        return new SeedInventory(objects.OfType<KkpSeed>().ToList(), objects.OfType<KkpCluster>().ToList(),
            objects.OfType<k8s.Models.V1Service>().ToList(), objects.OfType<k8s.Models.V1EndpointSlice>().ToList());
    }

    public static CompiledSeed Compile(string yaml)
    {
        var pipeline = new TestPipeline();
        var outcome = pipeline.ApplyYaml(yaml);
        Assert.True(outcome.Applied, outcome.RejectedBecause);
        return outcome.Current!;
    }
}
