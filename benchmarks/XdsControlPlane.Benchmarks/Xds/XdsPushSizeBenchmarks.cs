using System.Globalization;
using BenchmarkDotNet.Attributes;
using Envoy.Service.Discovery.V3;
using XdsControlPlane.Benchmarks.Compilation;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// Bytes per push per stream, SotW vs delta (issue 4): 1,000 tenants; one tenant's allowlist changes; one
/// SotW and one delta ADS stream (both wildcard on CDS, EDS, LDS, RDS, ECDS, ACKing everything) receive the
/// push. Sizes are the protobuf sizes of the responses as the client decoded them (<c>CalculateSize</c>; gRPC's
/// 5-byte prefix and HTTP/2 framing excluded). The timed operation is the round trip to both streams, from
/// setting the snapshot until both have received what they are owed; the compile and a 100 ms wait for any
/// further response are outside it.
/// </summary>
[InvocationCount(1)]
[WarmupCount(1)]
[IterationCount(4)]
public class XdsPushSizeBenchmarks
{
    private const int Tenants = 1_000;
    private const int RangesPerTenant = 20;

    private readonly List<(long Sotw, long Delta, int SotwResponses, int DeltaResponses)> _rounds = [];
    private SeedModel[] _models = [];
    private CompiledSeed _current = null!;
    private CompiledSeed _next = null!;
    private XdsBenchServer _server = null!;
    private Grpc.Net.Client.GrpcChannel _channel = null!;
    private AutoAckSotwClient _sotw = null!;
    private AutoAckDeltaClient _delta = null!;
    private int _iteration;

    private readonly Lock _gate = new();
    private bool _open;
    private HashSet<string> _sotwPending = [];
    private HashSet<string> _deltaPending = [];
    private long _sotwBytes;
    private long _deltaBytes;
    private int _sotwResponses;
    private int _deltaResponses;
    private TaskCompletionSource _done = new();

    /// <summary>Which tenant changes: t000000 is Tunneling (SNI + CONNECT), t000003 NodePort (its own listeners).</summary>
    [Params("Tunneling", "NodePort")]
    public string ChangedTenant { get; set; } = "Tunneling";

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        var a = SyntheticSeed.Build(Tenants, RangesPerTenant);
        var index = ChangedTenant == "Tunneling" ? 0 : 3;
        if (a.Tenants[index].Strategy.ToString() != ChangedTenant)
        {
            throw new InvalidOperationException($"tenant {index} is {a.Tenants[index].Strategy}, not {ChangedTenant}");
        }
        _models = [a, SyntheticSeed.WithOneListChanged(a, index, variant: 1)];
        _current = SeedCompiler.Compile(a);
        _server = await XdsBenchServer.StartAsync(_current.Snapshot);
        _channel = BenchChannels.Create(_server.Address);
        _sotw = new AutoAckSotwClient("envoy-sotw") { OnAcked = (r, _) => OnSotw(r) };
        _delta = new AutoAckDeltaClient("envoy-delta") { OnAcked = (r, _) => OnDelta(r) };
        await _sotw.StartAsync(_channel);
        await _delta.StartAsync(_channel);
        await Task.WhenAll(_sotw.Ready, _delta.Ready).WaitAsync(TimeSpan.FromMinutes(1));
    }

    private void OnSotw(DiscoveryResponse response)
    {
        lock (_gate)
        {
            if (!_open)
            {
                return;
            }
            _sotwBytes += response.CalculateSize();
            _sotwResponses++;
            _sotwPending.Remove($"{response.TypeUrl}|{response.VersionInfo}");
            CheckDone();
        }
    }

    private void OnDelta(DeltaDiscoveryResponse response)
    {
        lock (_gate)
        {
            if (!_open)
            {
                return;
            }
            _deltaBytes += response.CalculateSize();
            _deltaResponses++;
            foreach (var resource in response.Resources)
            {
                _deltaPending.Remove($"{response.TypeUrl}|{resource.Name}|{resource.Version}");
            }
            foreach (var name in response.RemovedResources)
            {
                _deltaPending.Remove($"{response.TypeUrl}|{name}|-");
            }
            CheckDone();
        }
    }

    private void CheckDone()
    {
        if (_sotwPending.Count == 0 && _deltaPending.Count == 0)
        {
            _done.TrySetResult();
        }
    }

    [IterationSetup]
    public void NextRound()
    {
        _iteration++;
        _next = SeedCompiler.Compile(_models[_iteration % 2], _current);
        lock (_gate)
        {
            // What each protocol owes the client: SotW a new version of every changed type, delta every changed resource.
            _sotwPending = [];
            _deltaPending = [];
            foreach (var type in AutoAckSotwClient.Types)
            {
                var before = _current.Snapshot.Get(type);
                var after = _next.Snapshot.Get(type);
                if (before.Version != after.Version)
                {
                    _sotwPending.Add($"{type}|{after.Version}");
                }
                _deltaPending.UnionWith(SnapshotChanges.Changed(before, after).Select(r => $"{type}|{r.Name}|{r.Version}"));
                _deltaPending.UnionWith(SnapshotChanges.Removed(before, after).Select(name => $"{type}|{name}|-"));
            }
            _sotwBytes = _deltaBytes = 0;
            _sotwResponses = _deltaResponses = 0;
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _open = true;
        }
    }

    [Benchmark(Description = "1 tenant's allowlist change → 1 SotW + 1 delta stream")]
    public async Task OneChange()
    {
        _server.Set(_next.Snapshot);
        await _done.Task.WaitAsync(TimeSpan.FromMinutes(1));
    }

    [IterationCleanup]
    public void RoundDone()
    {
        // Anything else the push brings (nothing is expected) is counted too.
        Thread.Sleep(100);
        lock (_gate)
        {
            _open = false;
            _rounds.Add((_sotwBytes, _deltaBytes, _sotwResponses, _deltaResponses));
        }
        _current = _next;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (sotw, delta, sotwResponses, deltaResponses) in _rounds)
        {
            BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
                $"push size, {Tenants} tenants, one {ChangedTenant} tenant's allowlist changed: SotW {sotw:N0} bytes in {sotwResponses} responses, " +
                $"delta {delta:N0} bytes in {deltaResponses} responses, SotW/delta = {(double)sotw / Math.Max(1, delta):F1}"));
        }
        _sotw.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _delta.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _channel.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
