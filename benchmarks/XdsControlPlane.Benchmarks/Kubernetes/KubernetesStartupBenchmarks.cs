using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using XdsControlPlane.Benchmarks.Xds;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Tests.KubernetesWatch;
using XdsControlPlane.Xds;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>
/// Issue 13, item 3: the Kubernetes source's start at seed scale. The API-server stand-in serves the synthetic seed
/// (<see cref="SyntheticApiSeed"/>; 10,000 tenants = 10,000 Clusters, 24,000 Services, 24,000 EndpointSlices); each
/// invocation starts a fresh <see cref="KubernetesSource"/> (default options: 500 objects a page, 100 ms debounce)
/// and stops the clock when the first snapshot has been translated, compiled by the <c>ConfigPipeline</c> and accepted
/// by a real <see cref="SnapshotCache"/>, as <c>KubernetesSourceService</c> wires them. Goal: ≤ 5 s at 10,000 tenants.
/// The baseline lists every resource in one response (no <c>limit</c>), as a client without paging would.
/// GlobalSetup of the paged target prints where the time goes (informers' lists, translation, apply).
/// </summary>
[InvocationCount(1)]
[GcServer(true)]
public class KubernetesStartupBenchmarks
{
    [ParamsSource(nameof(TenantCounts))]
    public int Tenants { get; set; }

    /// <summary>1,000 and 10,000; <c>XDS_K8S_TENANTS=1000</c> picks fewer.</summary>
    public static IEnumerable<int> TenantCounts() => KubernetesBench.Tenants([1_000, 10_000]);

    private FakeApiServer _api = null!;
    private SourceStack? _stack;

    [GlobalSetup(Target = nameof(Paged))]
    public void SetupPaged()
    {
        Setup();
        Breakdown();
    }

    [GlobalSetup(Target = nameof(Unpaged))]
    public void Setup() => _api = SyntheticApiSeed.StartAsync(Tenants).GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "start → first snapshot accepted, one list per resource")]
    public Task Unpaged() => StartAsync(int.MaxValue);

    [Benchmark(Description = "start → first snapshot accepted, 500 a page")]
    public Task Paged() => StartAsync(500);

    [IterationCleanup]
    public void StopSource()
    {
        _stack?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stack = null;
    }

    [GlobalCleanup]
    public void Cleanup() => _api.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task<Delivery> StartAsync(int pageSize)
    {
        var cache = new SnapshotCache();
        _stack = new SourceStack(_api, KubernetesBench.Options with { ListPageSize = pageSize }, KubernetesBench.Publisher(cache));
        _stack.Start();
        var first = await _stack.WaitForAsync(0, _ => true, "the first inventory");
        if (first.Compiled.Model.Tenants.Count != Tenants)
        {
            throw new InvalidOperationException($"{first.Compiled.Model.Tenants.Count} tenants compiled, {Tenants} expected");
        }
        return first;
    }

    /// <summary>Not timed by BenchmarkDotNet: three starts, each split into its phases.</summary>
    private void Breakdown()
    {
        for (var n = 0; n < 3; n++)
        {
            var startedAt = DateTimeOffset.UtcNow;
            var first = StartAsync(500).GetAwaiter().GetResult();
            var stack = _stack!;
            var lists = string.Join(", ", stack.Source.GetStatus().Informers.Select(i =>
                string.Create(CultureInfo.InvariantCulture, $"{i.Resource} {i.ObjectCount} at {(i.LastSyncTime!.Value - startedAt).TotalMilliseconds:F0} ms")));
            BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
                $"kubernetes start {Tenants} tenants #{n + 1}: listed: {lists}; inventory at {Latency.Ms(first.Received - stack.Started):F0} ms, " +
                $"translate {Latency.Ms(first.Translated - first.Received):F0} ms, apply {Latency.Ms(first.Accepted - first.Translated):F0} ms, " +
                $"accepted at {Latency.Ms(first.Accepted - stack.Started):F0} ms; CPU: to the inventory {(first.Cpu.Received - stack.StartedCpu).TotalMilliseconds:F0} ms, " +
                $"translate {(first.Cpu.Translated - first.Cpu.Received).TotalMilliseconds:F0} ms, apply {(first.Cpu.Accepted - first.Cpu.Translated).TotalMilliseconds:F0} ms"));
            StopSource();
        }
    }
}
