using BenchmarkDotNet.Attributes;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Compilation;

/// <summary>
/// Full compilation of a seed, 20 ranges per tenant: 100 / 1,000 / 10,000 tenants, so the growth with the
/// seed's size is visible (goal: 10,000 tenants in ≤ 300 ms and ≤ 300 MB allocated).
/// </summary>
/// <remarks>
/// Server GC, as the control plane runs (the server is an ASP.NET Core app: Sdk.Web turns Server GC on). Most of
/// what a full compile allocates survives into the snapshot, so the collector's settings weigh on the figure:
/// workstation GC collects 20 times per compile at 10,000 tenants, Server GC 2-4 times.
/// </remarks>
[MemoryDiagnoser]
[GcServer(true)]
public class FullCompileBenchmarks
{
    private SeedModel _model = null!;

    [Params(100, 1_000, 10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup() => _model = SyntheticSeed.Build(Tenants, 20);

    [Benchmark]
    public CompiledSeed FullCompile() => SeedCompiler.Compile(_model);
}

/// <summary>
/// One tenant's allowlist changes in a large seed. Baseline: the naive path, rebuilding everything from
/// scratch on every change (what KKP's envoy-manager does). Ours: recompile the changed tenant and patch
/// the previous snapshot (goal: ≤ 5 ms at 10,000 tenants). "+Serialize" also produces the bytes of every
/// resource whose version changed, which the server sends (the shared SNI listener holds every chain).
/// </summary>
[MemoryDiagnoser]
[GcServer(true)]
public class OneTenantChangeBenchmarks
{
    private SeedModel _base = null!;
    private SeedModel[] _changed = null!;
    private CompiledSeed _previous = null!;
    private int _next;

    [Params(1_000, 10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _base = SyntheticSeed.Build(Tenants, 20);
        _previous = SeedCompiler.Compile(_base);
        // Several distinct changes so no iteration can be answered from an identical previous input.
        _changed = Enumerable.Range(1, 8).Select(v => SyntheticSeed.WithOneListChanged(_base, Tenants / 2, v)).ToArray();
    }

    private SeedModel NextChange() => _changed[_next++ % _changed.Length];

    [Benchmark(Baseline = true)]
    public CompiledSeed NaiveRebuildEverything() => SeedCompiler.Compile(NextChange());

    [Benchmark]
    public CompiledSeed Incremental() => SeedCompiler.Compile(NextChange(), _previous);

    [Benchmark]
    public long IncrementalPlusSerializeChanged()
    {
        var compiled = SeedCompiler.Compile(NextChange(), _previous);
        return SnapshotChanges.Changed(_previous.Snapshot, compiled.Snapshot).Sum(c => (long)c.Resource.Bytes.Length);
    }
}
