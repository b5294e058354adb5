using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using k8s;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Benchmarks.Xds;
using XdsControlPlane.Sources.Tests.KubernetesWatch;
using XdsControlPlane.Xds;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>
/// Issue 13, item 3: a watch burst. With the source running and the first snapshot served, the stand-in changes the
/// allowlists of 1,000 different tenants' Clusters as fast as it can (1,000 MODIFIED events on the open watch); the
/// clock stops when a snapshot holding the last of them (so all of them: one watch delivers in order) has been
/// accepted by the <see cref="SnapshotCache"/>. Goal: ≤ 2 s at 10,000 tenants. Baseline: each inventory the source
/// publishes is compiled afresh (a full rebuild), instead of by the pipeline's incremental compile.
/// </summary>
[InvocationCount(1)]
[GcServer(true)]
public class KubernetesBurstBenchmarks
{
    private const int Changes = 1_000;

    [ParamsSource(nameof(TenantCounts))]
    public int Tenants { get; set; }

    /// <summary>10,000; <c>XDS_K8S_TENANTS</c> picks others.</summary>
    public static IEnumerable<int> TenantCounts() => KubernetesBench.Tenants([10_000]);

    private FakeApiServer _api = null!;
    private SourceStack _stack = null!;
    private readonly List<long> _latencies = [];
    private List<JsonObject> _burst = [];
    private string _marker = "";
    private string _lastTenant = "";
    private int _generation;
    private string _target = "";

    [GlobalSetup(Target = nameof(Incremental))]
    public void SetupIncremental() => Setup(fullRebuild: false, "incremental");

    [GlobalSetup(Target = nameof(FullRebuild))]
    public void SetupFull() => Setup(fullRebuild: true, "full rebuild");

    private void Setup(bool fullRebuild, string target)
    {
        _target = target;
        _api = SyntheticApiSeed.StartAsync(Tenants).GetAwaiter().GetResult();
        _stack = new SourceStack(_api, KubernetesBench.Options, KubernetesBench.Publisher(new SnapshotCache()), fullRebuild);
        _stack.Start();
        _stack.WaitForAsync(0, _ => true, "the first inventory").GetAwaiter().GetResult();
        Wait(() => _api.OpenWatches("clusters") == 1, "the clusters watch");
    }

    /// <summary>Not timed: the 1,000 changed Clusters are built (each a new list with a marker range of this burst).</summary>
    [IterationSetup]
    public void Prepare()
    {
        var g = ++_generation;
        var stride = Math.Max(1, Tenants / Changes);
        var random = new Random(g);
        _burst = [];
        for (var k = 0; k < Changes; k++)
        {
            var i = (k * stride + g) % Tenants;
            var ranges = SyntheticFolder.RandomRanges(random, 20);
            _marker = string.Create(CultureInfo.InvariantCulture, $"100.66.{g / 256 % 256}.{g % 256}/32");
            ranges.Add(_marker);
            _burst.Add(JsonNode.Parse(KubernetesJson.Serialize(SyntheticApiSeed.Cluster(i, ranges)))!.AsObject());
            _lastTenant = SyntheticFolder.TenantId(i);
        }
    }

    [Benchmark(Description = "1,000 watch events → incremental pipeline → accepted")]
    public Task Incremental() => BurstAsync();

    [Benchmark(Baseline = true, Description = "1,000 watch events → full rebuild → accepted")]
    public Task FullRebuild() => BurstAsync();

    [GlobalCleanup]
    public void Cleanup()
    {
        BenchReport.Line($"kubernetes burst {Tenants} tenants {_target}: per burst: {Latency.Summary(_latencies)}; {_stack.Deliveries.Count} inventories in all");
        _stack.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _api.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private async Task BurstAsync()
    {
        var before = _stack.Deliveries.Count;
        var start = Stopwatch.GetTimestamp();
        foreach (var cluster in _burst)
        {
            _api.Upsert("clusters", cluster);
        }
        var marker = _marker;
        var tenant = _lastTenant;
        var served = await _stack.WaitForAsync(before,
            inventory => inventory.Clusters.FirstOrDefault(c => c.Metadata.Name == tenant)?.Spec?.ApiServerAllowedIPRanges?.CidrBlocks?.Contains(marker) == true,
            $"the burst's last change ({tenant})");
        _latencies.Add(served.Accepted - start);
        var deliveries = _stack.Deliveries.Count - before;
        BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
            $"kubernetes burst {Tenants} tenants {_target}: served {Latency.Ms(served.Accepted - start):F0} ms after the first write, in {deliveries} inventories; " +
            $"the last: received at {Latency.Ms(served.Received - start):F0} ms, translate {Latency.Ms(served.Translated - served.Received):F0} ms, " +
            $"apply {Latency.Ms(served.Accepted - served.Translated):F0} ms"));
    }

    private static void Wait(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
            Thread.Sleep(10);
        }
    }
}
