using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Benchmarks.Xds;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Benchmarks.EndToEnd;

/// <summary>
/// What the operator waits for (issue 13): one tenant's file edited on disk → <see cref="FolderSource.Load(IReadOnlyCollection{string})"/>
/// of that file (as the watcher names it) → <see cref="IncrementalTranslator"/> (that tenant) → <see cref="ConfigPipeline.Apply"/>
/// (incremental compile, consistency check, publish) → 3 SotW ADS streams (the replicas of the nodeport-proxy) on real HTTP/2 over loopback have received
/// and ACKed every type the change touched. The pipeline runs as the server does with a revocation delay above zero:
/// <list type="bullet">
/// <item><c>widen</c>: the tenant's list gains a range.</item>
/// <item><c>narrow</c>: the list loses a range; the narrower list is served at once, the drain is owed.</item>
/// <item><c>drain</c>: the owed drain of one narrowing (<see cref="ConfigPipeline.DrainRevocations"/>), as the host
/// makes it when the delay elapses; the narrowing itself is made before the clock.</item>
/// </list>
/// The baseline makes the same file edit through a full rebuild: a complete folder read (every file stat-ed) and
/// <see cref="InventoryTranslator.Translate"/> of every object, then a fresh compile of the whole model with no previous compilation, published to the same streams. It has no deferred
/// drain, so for <c>drain</c> it times the narrowing (which a full rebuild drains at once). Per-change latencies are
/// printed at GlobalCleanup (p50/p99/max); the incremental target's GlobalSetup also prints where the time goes.
/// Goals at 10,000 tenants: p99 ≤ 20 ms for a widening or a served narrowing, ≤ 100 ms for the drain; growth from 100
/// to 10,000 tenants ≤ 2× for the first two.
/// </summary>
[InvocationCount(1)]
[GcServer(true)]
public class EndToEndBenchmarks
{
    private const int Replicas = 3;
    private const int EditedTenant = 0; // Tunneling: the shared SNI listener and the tunneling routes are involved
    private const int NarrowStock = 40; // /32s added before narrowing, one removed per change

    [ParamsSource(nameof(TenantCounts))]
    public int Tenants { get; set; }

    /// <summary>100, 1,000 and 10,000; <c>XDS_E2E_TENANTS=100,1000</c> picks fewer (the 10,000 runs take minutes).</summary>
    public static IEnumerable<int> TenantCounts() =>
        Environment.GetEnvironmentVariable("XDS_E2E_TENANTS") is { Length: > 0 } chosen
            ? chosen.Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture))
            : [100, 1_000, 10_000];

    [Params("widen", "narrow", "drain")]
    public string Change { get; set; } = "widen";

    private readonly List<long> _latencies = [];
    private string _target = "";
    private string _folder = "";
    private FolderSource _source = null!;
    private readonly IncrementalTranslator _translator = new();
    private ConfigPipeline _pipeline = null!;
    private XdsBenchServer _server = null!;
    private AckedReplicas _replicas = null!;
    private List<string> _ranges = [];
    private int _added;
    private long _publishTicks;

    [GlobalSetup(Target = nameof(Incremental))]
    public void SetupIncremental()
    {
        _target = "incremental";
        SetupAsync(full: false).GetAwaiter().GetResult();
        Breakdown();
    }

    [GlobalSetup(Target = nameof(FullRebuild))]
    public void SetupFull()
    {
        _target = "full rebuild";
        SetupAsync(full: true).GetAwaiter().GetResult();
    }

    private async Task SetupAsync(bool full)
    {
        _folder = Path.Combine(Path.GetTempPath(), $"xds-e2e-bench-{Tenants}-{Environment.ProcessId}");
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
        SyntheticFolder.Write(_folder, Tenants);
        // Tenant 0's list as SyntheticFolder.Write drew it: the first draw from its random sequence.
        _ranges = SyntheticFolder.RandomRanges(new Random(42), 20);
        _source = new FolderSource(_folder, NullLogger<FolderSource>.Instance);
        // Publishing as the host does (the cache checks, then streams are woken), timed for the breakdown. The first
        // apply has no server yet: the server starts with that snapshot (and checks it then).
        _pipeline = new ConfigPipeline(snapshot =>
        {
            if (_server is null)
            {
                return [];
            }
            var start = Stopwatch.GetTimestamp();
            var ok = _server.Cache.TrySetSnapshot(snapshot, out var problems);
            _publishTicks = Stopwatch.GetTimestamp() - start;
            return ok ? [] : problems;
        }, NullLogger<ConfigPipeline>.Instance) { RevocationDelay = TimeSpan.FromSeconds(5) };

        var first = _pipeline.Apply(IncrementalInput(Load(null)));
        if (!first.Applied || first.Current is null || first.Current.Model.Tenants.Count != Tenants)
        {
            throw new InvalidOperationException($"the synthetic folder did not compile: {first.RejectedBecause}");
        }
        var served = first.Current;
        _server = await XdsBenchServer.StartAsync(served.Snapshot);
        _replicas = await AckedReplicas.ConnectAsync(_server.Address, Replicas, served);

        if (Change != "widen")
        {
            // Stock to narrow from: /32s outside the seed's random ranges, so each removal is a real narrowing
            // (AckedReplicas.PublishedAsync throws when a change touched nothing).
            _ranges.AddRange(Enumerable.Range(0, NarrowStock).Select(k => $"100.64.{k / 256}.{k % 256}/32"));
            await ApplyEditAsync(full: false);
            await DrainAsync();
        }
        // One change of the kind this process times, before any clock, so the first measured one finds everything warm.
        await BeforeChangeAsync(full);
        await OneChangeAsync(full);
        _latencies.Clear();
    }

    [IterationSetup(Target = nameof(Incremental))]
    public void BeforeIncremental() => BeforeChangeAsync(full: false).GetAwaiter().GetResult();

    [IterationSetup(Target = nameof(FullRebuild))]
    public void BeforeFull() => BeforeChangeAsync(full: true).GetAwaiter().GetResult();

    /// <summary>Not timed: owed drains are paid (in production they are, 5 s after a narrowing), stock is refilled, and
    /// for <c>drain</c> the narrowing whose drain is then timed is made.</summary>
    private async Task BeforeChangeAsync(bool full)
    {
        if (!full)
        {
            await DrainAsync();
        }
        if (Change != "widen" && _ranges.Count < 22)
        {
            _ranges.AddRange(Enumerable.Range(0, NarrowStock).Select(k => $"100.64.{k / 256}.{k % 256}/32"));
            await ApplyEditAsync(full);
            if (!full)
            {
                await DrainAsync();
            }
        }
        if (Change == "drain" && !full)
        {
            Narrow();
            await ApplyEditAsync(full: false);
        }
    }

    [Benchmark(Description = "edit → incremental pipeline → 3 streams ACKed")]
    public Task Incremental() => OneChangeAsync(full: false);

    [Benchmark(Baseline = true, Description = "edit → full rebuild → 3 streams ACKed")]
    public Task FullRebuild() => OneChangeAsync(full: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        BenchReport.Line($"end-to-end {Tenants} tenants {Change} {_target}: per change, warm-up and measured iterations: {Latency.Summary(_latencies)}");
        _replicas.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task OneChangeAsync(bool full)
    {
        var start = Stopwatch.GetTimestamp();
        if (Change == "drain" && !full)
        {
            await DrainAsync();
        }
        else
        {
            if (Change == "widen")
            {
                Widen();
            }
            else
            {
                Narrow();
            }
            await ApplyEditAsync(full);
        }
        _latencies.Add(Stopwatch.GetTimestamp() - start);
    }

    private void Widen() => _ranges.Add(string.Create(CultureInfo.InvariantCulture, $"100.65.{_added / 256 % 256}.{_added++ % 256}/32"));

    private void Narrow() => _ranges.RemoveAt(_ranges.Count - 1);

    /// <summary>Writes the edited tenant's file, then read → translate → compile → publish → every stream ACKed.</summary>
    private async Task ApplyEditAsync(bool full)
    {
        WriteTenantFile();
        var next = full ? FullCompile(FullInput(Load(null))) : Applied(_pipeline.Apply(IncrementalInput(Load([EditedPath]))));
        await _replicas.PublishedAsync(next, Change);
    }

    private async Task DrainAsync()
    {
        if (_pipeline.DrainRevocations() is { } outcome)
        {
            await _replicas.PublishedAsync(Applied(outcome), Change);
        }
    }

    private string EditedPath => Path.Combine(_folder, SyntheticFolder.TenantFile(EditedTenant));

    private void WriteTenantFile() => File.WriteAllText(EditedPath, SyntheticFolder.TenantManifests(EditedTenant, _ranges));

    /// <summary>A complete read (null) or a read of the named files, as the watcher names them.</summary>
    private FolderLoadResult Load(IReadOnlyCollection<string>? paths) =>
        _source.Load(paths) is { Succeeded: true } load ? load : throw new InvalidOperationException("the folder did not read");

    /// <summary>As the server does: the read's changes to the incremental translator, its result to the pipeline.</summary>
    private PipelineInput IncrementalInput(FolderLoadResult load)
    {
        _translator.Apply(load.Changes);
        return Input(_translator.Translate());
    }

    /// <summary>The baseline: every object translated again.</summary>
    private PipelineInput FullInput(FolderLoadResult load)
    {
        _translator.Apply(load.Changes); // kept current, unused: the baseline's process never takes the incremental path
        return Input(InventoryTranslator.Translate(load.Inventory!));
    }

    private static PipelineInput Input(TranslationResult result) => new(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics);

    /// <summary>The baseline: the whole model compiled afresh, checked and published by the cache.</summary>
    private CompiledSeed FullCompile(PipelineInput input)
    {
        var compiled = SeedCompiler.Compile(new SeedModel(input.Seed!, input.Tenants));
        _server.Set(compiled.Snapshot);
        return compiled;
    }

    private static CompiledSeed Applied(ApplyOutcome outcome) =>
        outcome is { Applied: true, Current: { } current } ? current : throw new InvalidOperationException($"not applied: {outcome.RejectedBecause}");


    /// <summary>
    /// Not timed by BenchmarkDotNet: five changes of this process's kind, each split into folder read, translation,
    /// pipeline apply (of which the cache's check + publish) and push + ACK (from the apply's return to the last ACK).
    /// </summary>
    private void Breakdown()
    {
        var rows = new List<double[]>();
        for (var n = 0; n < 5; n++)
        {
            BeforeChangeAsync(full: false).GetAwaiter().GetResult();
            double read = 0, translate = 0;
            var t0 = Stopwatch.GetTimestamp();
            ApplyOutcome outcome;
            if (Change == "drain")
            {
                outcome = _pipeline.DrainRevocations() ?? throw new InvalidOperationException("no drain owed");
            }
            else
            {
                if (Change == "widen")
                {
                    Widen();
                }
                else
                {
                    Narrow();
                }
                WriteTenantFile();
                var load = Load([EditedPath]);
                var t1 = Stopwatch.GetTimestamp();
                _translator.Apply(load.Changes);
                var result = _translator.Translate();
                var t2 = Stopwatch.GetTimestamp();
                read = Latency.Ms(t1 - t0);
                translate = Latency.Ms(t2 - t1);
                outcome = _pipeline.Apply(Input(result));
            }
            var t3 = Stopwatch.GetTimestamp();
            var apply = outcome.Elapsed.TotalMilliseconds;
            var publish = Latency.Ms(_publishTicks);
            _replicas.PublishedAsync(Applied(outcome), Change).GetAwaiter().GetResult();
            var pushed = Latency.Ms(Stopwatch.GetTimestamp() - t3);
            rows.Add([read, translate, apply, publish, pushed, Latency.Ms(Stopwatch.GetTimestamp() - t0)]);
            BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
                $"end-to-end breakdown {Tenants} tenants {Change} #{n + 1}: read {read:F1} ms, translate {translate:F1} ms, " +
                $"apply {apply:F1} ms (of which check + publish {publish:F1} ms), push + ACK {pushed:F1} ms, total {rows[^1][5]:F1} ms"));
        }
        double Median(int column) => rows.Select(r => r[column]).Order().ElementAt(rows.Count / 2);
        BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
            $"end-to-end breakdown {Tenants} tenants {Change} median of 5: read {Median(0):F1} ms, translate {Median(1):F1} ms, " +
            $"apply {Median(2):F1} ms (check + publish {Median(3):F1} ms), push + ACK {Median(4):F1} ms, total {Median(5):F1} ms"));
    }
}
