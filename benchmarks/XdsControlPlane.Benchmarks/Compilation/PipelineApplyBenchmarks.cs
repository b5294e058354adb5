using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Model;
using XdsControlPlane.Xds;

namespace XdsControlPlane.Benchmarks.Compilation;

/// <summary>
/// The pipeline alone (issue 13, item 2): <see cref="ConfigPipeline.Apply"/> of a one-tenant change (input → compile →
/// the cache's consistency check → published into a real <see cref="SnapshotCache"/>), with no source and no streams,
/// at 100, 1,000 and 10,000 tenants. The pipeline runs as the server does, with a revocation delay above zero:
/// <list type="bullet">
/// <item><c>widen</c>: tenant 0's list (a Tunneling tenant: the shared SNI listener is involved) gains a /32.</item>
/// <item><c>narrow</c>: it loses a /32, served at once under the same filter name, the drain owed.</item>
/// <item><c>drain</c>: that drain (<see cref="ConfigPipeline.DrainRevocations"/>), the narrowing made before the clock.</item>
/// </list>
/// The input hands over the same <see cref="Tenant"/> instances for every tenant but the edited one, as an incremental
/// source does. The baseline is a full rebuild of the same change: <c>SeedCompiler.Compile(model, previous: null)</c>,
/// checked and published by the same cache (it drains at once, so for <c>drain</c> it times the narrowing).
/// Goals at 10,000 tenants: ≤ 20 ms for a widening or narrowing, ≤ 60 ms for the drain; growth from 100 to 10,000
/// tenants ≤ 2×.
/// </summary>
[InvocationCount(1)]
[GcServer(true)]
public class PipelineApplyBenchmarks
{
    private const int EditedTenant = 0;

    [Params(100, 1_000, 10_000)]
    public int Tenants { get; set; }

    [Params("widen", "narrow", "drain")]
    public string Change { get; set; } = "widen";

    private SeedModel _model = null!;
    private SnapshotCache _cache = null!;
    private ConfigPipeline _pipeline = null!;
    private List<CidrRange> _ranges = [];
    private int _added;
    private PipelineInput _next = null!;

    private bool _full;

    [GlobalSetup(Target = nameof(Incremental))]
    public void SetupIncremental() => Setup();

    [GlobalSetup(Target = nameof(FullRebuild))]
    public void SetupFull()
    {
        _full = true;
        Setup();
    }

    private void Setup()
    {
        _model = SyntheticSeed.Build(Tenants, 20);
        _ranges = [.. _model.Tenants[EditedTenant].AllowedRanges];
        _cache = new SnapshotCache();
        _pipeline = new ConfigPipeline(snapshot => _cache.TrySetSnapshot(snapshot, out var problems) ? [] : problems,
            NullLogger<ConfigPipeline>.Instance) { RevocationDelay = TimeSpan.FromSeconds(5) };
        Check(_pipeline.Apply(Input()));
    }

    /// <summary>Not timed: any drain owed is paid, stock to narrow from is refilled, the next input is made (an O(tenants)
    /// copy of the list, the source's cost), and for <c>drain</c> the narrowing whose drain is then timed is applied.
    /// The baseline's process only moves the list (a full rebuild owes nothing).</summary>
    [IterationSetup]
    public void BeforeChange()
    {
        if (!_full)
        {
            _pipeline.DrainRevocations();
        }
        if (Change != "widen" && _ranges.Count < 22)
        {
            for (var k = 0; k < 40; k++)
            {
                _ranges.Add(CidrRange.Parse($"100.64.0.{k}/32"));
            }
            if (!_full)
            {
                Check(_pipeline.Apply(Input()));
                _pipeline.DrainRevocations();
            }
        }
        if (Change == "widen")
        {
            _ranges.Add(CidrRange.FromIPv4(0x6441_0000u + (uint)_added++, 32)); // 100.65.x.y/32
        }
        else
        {
            _ranges.RemoveAt(_ranges.Count - 1);
        }
        _next = Input();
        if (Change == "drain" && !_full)
        {
            Check(_pipeline.Apply(_next));
        }
    }

    [Benchmark(Description = "one-tenant change: ConfigPipeline.Apply (drain: DrainRevocations)")]
    public ApplyOutcome Incremental() =>
        Check(Change == "drain" ? _pipeline.DrainRevocations() : _pipeline.Apply(_next));

    [Benchmark(Baseline = true, Description = "the same change as a full rebuild: Compile(previous: null) + publish")]
    public CompiledSeed FullRebuild()
    {
        var compiled = SeedCompiler.Compile(new SeedModel(_next.Seed!, _next.Tenants));
        if (!_cache.TrySetSnapshot(compiled.Snapshot, out var problems))
        {
            throw new InvalidOperationException($"the full rebuild was refused: {problems[0]}");
        }
        return compiled;
    }

    /// <summary>The seed with the edited tenant's current list: a new instance for it, the same ones for the others.</summary>
    private PipelineInput Input()
    {
        var model = SyntheticSeed.WithRanges(_model, EditedTenant, _ranges);
        return new PipelineInput(model.Seed, model.Tenants, new HashSet<string>(), []);
    }

    private static ApplyOutcome Check(ApplyOutcome? outcome) =>
        outcome is { Applied: true } ? outcome : throw new InvalidOperationException($"not applied: {outcome?.RejectedBecause ?? "nothing owed"}");
}
