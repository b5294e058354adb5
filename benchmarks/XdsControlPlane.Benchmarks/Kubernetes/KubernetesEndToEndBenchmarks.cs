using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using k8s;
using XdsControlPlane.Benchmarks.EndToEnd;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Benchmarks.Xds;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Sources.Tests.KubernetesWatch;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>
/// The end-to-end edit of <c>EndToEndBenchmarks</c> with the Kubernetes source: one watch event (a Tunneling tenant's
/// Cluster with a changed allowlist, MODIFIED on the open watch of the API-server stand-in) → the source's debounce
/// (100 ms, the default) → translation → <c>ConfigPipeline.Apply</c> → 3 SotW ADS streams on real HTTP/2 have ACKed
/// every type the change touched, at its new version.
/// <list type="bullet">
/// <item><c>widen</c>: the list gains a /32.</item>
/// <item><c>narrow</c>: the /32 added before the clock (widened, served and drained, untimed) is removed; served at once,
/// the drain owed (the drain itself is the pipeline's, timed by <c>EndToEndBenchmarks</c>).</item>
/// </list>
/// Baseline: each inventory compiled afresh (full rebuild) and published to the same streams. Per-change latencies and
/// the last change's split (event → inventory, translation, apply, push + ACK) are printed.
/// </summary>
[InvocationCount(1)]
[GcServer(true)]
public class KubernetesEndToEndBenchmarks
{
    private const int Replicas = 3;
    private const int EditedTenant = 0; // Tunneling

    [ParamsSource(nameof(TenantCounts))]
    public int Tenants { get; set; }

    /// <summary>100, 1,000 and 10,000; <c>XDS_K8S_TENANTS</c> picks others.</summary>
    public static IEnumerable<int> TenantCounts() => KubernetesBench.Tenants([100, 1_000, 10_000]);

    [Params("widen", "narrow")]
    public string Change { get; set; } = "widen";

    private readonly List<long> _latencies = [];
    private readonly List<string> _splits = [];
    private FakeApiServer _api = null!;
    private SourceStack _stack = null!;
    private XdsBenchServer? _server;
    private AckedReplicas _replicas = null!;
    private List<string> _ranges = [];
    private int _added;
    private string _target = "";

    [GlobalSetup(Target = nameof(Incremental))]
    public void SetupIncremental() => SetupAsync(fullRebuild: false, "incremental").GetAwaiter().GetResult();

    [GlobalSetup(Target = nameof(FullRebuild))]
    public void SetupFull() => SetupAsync(fullRebuild: true, "full rebuild").GetAwaiter().GetResult();

    private async Task SetupAsync(bool fullRebuild, string target)
    {
        _target = target;
        _api = await SyntheticApiSeed.StartAsync(Tenants);
        // Tenant 0's list as the seed drew it: the first draw from its random sequence.
        _ranges = SyntheticFolder.RandomRanges(new Random(42), 20);
        // Until the server runs, publishing accepts (the server starts with the first snapshot and checks it then).
        _stack = new SourceStack(_api, KubernetesBench.Options, snapshot => _server is null ? [] : KubernetesBench.Publisher(_server.Cache)(snapshot), fullRebuild);
        _stack.Start();
        var served = (await _stack.WaitForAsync(0, _ => true, "the first inventory")).Compiled;
        _server = await XdsBenchServer.StartAsync(served.Snapshot);
        _replicas = await AckedReplicas.ConnectAsync(_server.Address, Replicas, served);
        // One change of this kind before any clock, so the first measured one finds everything warm.
        await BeforeChangeAsync();
        await OneChangeAsync();
        _latencies.Clear();
        _splits.Clear();
    }

    [IterationSetup]
    public void BeforeChange() => BeforeChangeAsync().GetAwaiter().GetResult();

    /// <summary>Not timed: owed drains are paid; for <c>narrow</c>, a /32 is added (served, ACKed, drained) to be removed.</summary>
    private async Task BeforeChangeAsync()
    {
        await DrainAsync();
        if (Change == "narrow")
        {
            Widen();
            await EditAsync();
            await DrainAsync();
        }
    }

    [Benchmark(Description = "watch event → incremental pipeline → 3 streams ACKed")]
    public Task Incremental() => OneChangeAsync();

    [Benchmark(Baseline = true, Description = "watch event → full rebuild → 3 streams ACKed")]
    public Task FullRebuild() => OneChangeAsync();

    [GlobalCleanup]
    public void Cleanup()
    {
        BenchReport.Line($"kubernetes end-to-end {Tenants} tenants {Change} {_target}: per change: {Latency.Summary(_latencies)}");
        foreach (var split in _splits)
        {
            BenchReport.Line($"kubernetes end-to-end {Tenants} tenants {Change} {_target}: {split}");
        }
        _replicas.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stack.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _api.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private async Task OneChangeAsync()
    {
        if (Change == "widen")
        {
            Widen();
        }
        else
        {
            _ranges.RemoveAt(_ranges.Count - 1);
        }
        var start = Stopwatch.GetTimestamp();
        var (delivery, acked) = await EditAsync(start);
        _latencies.Add(acked - start);
        _splits.Add(string.Create(CultureInfo.InvariantCulture,
            $"event → inventory {Latency.Ms(delivery.Received - start):F1} ms, translate {Latency.Ms(delivery.Translated - delivery.Received):F1} ms, " +
            $"apply {Latency.Ms(delivery.Accepted - delivery.Translated):F1} ms, push + ACK {Latency.Ms(acked - delivery.Accepted):F1} ms, total {Latency.Ms(acked - start):F1} ms"));
    }

    private void Widen() => _ranges.Add(string.Create(CultureInfo.InvariantCulture, $"100.65.{_added / 256 % 256}.{_added++ % 256}/32"));

    /// <summary>The Cluster with <see cref="_ranges"/> as one MODIFIED event, until every stream has ACKed what it changed.</summary>
    private async Task<(Delivery Delivery, long Acked)> EditAsync(long? start = null)
    {
        var cluster = JsonNode.Parse(KubernetesJson.Serialize(SyntheticApiSeed.Cluster(EditedTenant, _ranges)))!.AsObject();
        var expected = _ranges.ToList();
        var tenant = SyntheticFolder.TenantId(EditedTenant);
        var before = _stack.Deliveries.Count;
        start ??= Stopwatch.GetTimestamp();
        _api.Upsert("clusters", cluster);
        var delivery = await _stack.WaitForAsync(before,
            inventory => inventory.Clusters.FirstOrDefault(c => c.Metadata.Name == tenant)?.Spec?.ApiServerAllowedIPRanges?.CidrBlocks is { } blocks && blocks.SequenceEqual(expected),
            $"tenant {tenant}'s new list");
        await _replicas.PublishedAsync(delivery.Compiled, Change);
        return (delivery, Stopwatch.GetTimestamp());
    }

    private async Task DrainAsync()
    {
        if (_stack.Pipeline.DrainRevocations() is { Applied: true, Current: { } current })
        {
            await _replicas.PublishedAsync(current, Change);
        }
    }

}
