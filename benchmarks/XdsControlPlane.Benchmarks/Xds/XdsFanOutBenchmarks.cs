using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using XdsControlPlane.Benchmarks.Compilation;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// Push fan-out (issue 4): 1,000 SotW ADS streams on loopback against one real Kestrel (h2c), each
/// subscribed to everything and having ACKed the initial snapshot. One operation = one tenant's allowlist
/// changes → incremental compile → TrySetSnapshot → every stream has received and ACKed every type the change
/// touched, at the new version. Per-stream latency (from TrySetSnapshot to the stream's last such ACK) is
/// printed at GlobalCleanup as p50/p99/max.
/// <list type="bullet">
/// <item><c>widen</c>: the list gains a range each time. ECDS absorbs it: the tenant's TypedExtensionConfig and
/// its own tunneling RouteConfiguration change, nothing else.</item>
/// <item><c>narrow</c>: the list loses a range each time, as the server serves it (a revocation delay above
/// zero): the narrower list goes out at once under the same filter name (TypedExtensionConfig + RDS), and the
/// drain that cuts live connections is owed.</item>
/// <item><c>drain</c>: the same narrowings with the drain paid at once (what the server does when the delay
/// elapses, once for all narrowings owed, or on each narrowing with <c>--revocation-delay 0</c>): the tenant's
/// SNI chain is renamed so Envoy drains it, LDS changes, and SotW LDS carries every listener to every stream.</item>
/// </list>
/// Goal: p99 ≤ 250 ms on 2 cores. The clients share the process (and the 2 cores) with the server.
/// </summary>
[InvocationCount(1)]
[WarmupCount(0)]
[IterationCount(3)]
[GcServer(true)]
public class XdsFanOutBenchmarks
{
    private const int Streams = 1_000;
    private const int Tenants = 1_000;
    private const int RangesPerTenant = 20;

    /// <summary>t000000: a Tunneling tenant (SNI + CONNECT), so the shared SNI listener and the tunneling routes change.</summary>
    private const int ChangedTenant = 0;

    [Params("widen", "narrow", "drain")]
    public string Change { get; set; } = "widen";

    private readonly List<long> _latencies = [];
    private readonly List<long> _totals = [];
    private readonly List<double> _compileMs = [];
    private readonly List<string> _perIteration = [];
    private SeedModel[] _models = [];
    private CompiledSeed _current = null!;
    private XdsBenchServer _server = null!;
    private SotwFleet _fleet = null!;
    private int _iteration;
    private long _initialEndpointWrites;
    private int _endpointResources;
    private long _changedBytes;
    private string _changedTypes = "";

    // The round in flight: set before TrySetSnapshot, read by the client pumps.
    private volatile Dictionary<string, (int Bit, string Version)> _targets = [];
    private int _allBits;
    private int[] _pending = [];
    private long _start;
    private long[] _roundLatency = [];
    private int _remaining;
    private TaskCompletionSource _allAcked = new();

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        var a = SyntheticSeed.Build(Tenants, RangesPerTenant);
        // Ten steps that each widen (or each narrow) tenant t000000's list by one range, from one model to the next.
        var extra = SyntheticSeed.RandomRanges(new Random(99), 10).ToArray();
        var original = a.Tenants[ChangedTenant].AllowedRanges;
        SeedModel WithExtra(int count) => SyntheticSeed.WithRanges(a, ChangedTenant, [.. original, .. extra.Take(count)]);
        _models = Change == "widen"
            ? [.. Enumerable.Range(0, 11).Select(WithExtra)]
            : [.. Enumerable.Range(0, 11).Select(k => WithExtra(10 - k))];
        _current = SeedCompiler.Compile(_models[0]);

        // The initial snapshot with its endpoints wrapped: counts how often each resource is serialised.
        var counted = CountingMessage.WrapEndpoints(_current.Snapshot);
        _endpointResources = counted.Get(TypeUrls.Endpoint).Resources.Count;
        CountingMessage.Reset();
        _server = await XdsBenchServer.StartAsync(counted);
        _fleet = await SotwFleet.ConnectAsync(_server.Address, Streams, (client, index) => client.OnAcked = (response, arrived) =>
        {
            // Each stream's pump is sequential: its own pending bits need no lock.
            if (_targets.TryGetValue(response.TypeUrl, out var target) && response.VersionInfo == target.Version
                && (_pending[index] & target.Bit) != 0)
            {
                _pending[index] &= ~target.Bit;
                if (_pending[index] == 0)
                {
                    _roundLatency[index] = Stopwatch.GetTimestamp() - _start;
                    if (Interlocked.Decrement(ref _remaining) == 0)
                    {
                        _allAcked.TrySetResult();
                    }
                }
            }
        });
        _initialEndpointWrites = CountingMessage.Writes;
        BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
            $"fan-out setup: {Streams} SotW streams on {_fleet.Channels.Length} HTTP/2 connections ACKed the initial snapshot; " +
            $"{_endpointResources} endpoint resources were serialised {_initialEndpointWrites} times in all " +
            $"({(double)_initialEndpointWrites / _endpointResources:F2} per resource; once per stream would be {Streams})"));

        // One change before measuring: the initial snapshot's endpoint set is the counting wrapper's, which no
        // compiled snapshot derives from, so the first change finds its delta by comparing every endpoint of
        // every stream (once). Each later change, as in production, is derived from the one before.
        NextModel();
        await OneChangeToAllStreams();
        BenchReport.Line($"fan-out {Change} warm-up change, not counted: {_perIteration[^1]}");
        _latencies.Clear();
        _totals.Clear();
        _compileMs.Clear();
        _perIteration.Clear();
    }

    [IterationSetup]
    public void NextModel()
    {
        _iteration++;
        _roundLatency = new long[Streams];
        _remaining = Streams;
        _allAcked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    [Benchmark(Description = "1 tenant's allowlist change → 1,000 SotW streams ACKed")]
    public async Task OneChangeToAllStreams()
    {
        var compileStart = Stopwatch.GetTimestamp();
        var next = SeedCompiler.Compile(_models[_iteration % _models.Length], _current, drainRevocations: Change != "narrow");
        _compileMs.Add(Latency.Ms(Stopwatch.GetTimestamp() - compileStart));
        // The types this change touched, each with the version every stream must ACK.
        var targets = new Dictionary<string, (int Bit, string Version)>();
        foreach (var type in AutoAckSotwClient.Types)
        {
            var set = next.Snapshot.Get(type);
            if (set.Version != _current.Snapshot.Get(type).Version)
            {
                targets[type] = (1 << targets.Count, set.Version);
            }
        }
        _changedTypes = string.Join("+", targets.Keys.Select(t => t[(t.LastIndexOf('.') + 1)..]));
        _allBits = targets.Values.Aggregate(0, (acc, t) => acc | t.Bit);
        _pending = Enumerable.Repeat(_allBits, Streams).ToArray();
        _targets = targets;
        _start = Stopwatch.GetTimestamp();
        _server.Set(next.Snapshot);
        await _allAcked.Task.WaitAsync(TimeSpan.FromMinutes(2));
        _totals.Add(Stopwatch.GetTimestamp() - _start);
        // What one SotW stream received for each changed type: every resource for LDS/CDS, the changed ones otherwise.
        // Counted after the clock: the shared listeners are encoded on first use, which is part of the push.
        _changedBytes = targets.Keys.Sum(type => (TypeUrls.IsFullState(type)
            ? next.Snapshot.Get(type).Resources.Values
            : SnapshotChanges.Changed(_current.Snapshot.Get(type), next.Snapshot.Get(type))).Sum(r => (long)r.Bytes.Length));
        _latencies.AddRange(_roundLatency);
        _perIteration.Add($"{Change} {_iteration} ({_changedTypes}, {_changedBytes:N0} bytes a stream): {Latency.Summary(_roundLatency)} total {Latency.Ms(_totals[^1]):F1} ms");
        _current = next;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // The listeners just pushed: each resource's Any is one shared instance wrapping the one encoding.
        var shared = _current.Snapshot.Get(TypeUrls.Listener).Resources.Values
            .All(r => ReferenceEquals(r.AsAny(), r.AsAny()) && ReferenceEquals(r.AsAny().Value, r.Bytes));
        foreach (var line in _perIteration)
        {
            BenchReport.Line($"fan-out {line}");
        }
        BenchReport.Line($"fan-out {Change}: per-stream latency (TrySetSnapshot → the stream ACKed every changed type), all iterations: {Latency.Summary(_latencies)}");
        BenchReport.Line($"fan-out {Change}: total per change (TrySetSnapshot → last of {Streams} streams ACKed): {Latency.Summary(_totals)}");
        BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
            $"fan-out {Change}: incremental compile per change: mean {_compileMs.DefaultIfEmpty().Average():F1} ms; last change sent {_changedTypes}, {_changedBytes:N0} bytes of resources to each of {Streams} streams"));
        BenchReport.Line($"fan-out serialisation: endpoints {_initialEndpointWrites} writes for {_endpointResources} resources × {Streams} streams; " +
            $"listener Any instances shared and wrapping the one encoding: {shared}");
        _fleet.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
