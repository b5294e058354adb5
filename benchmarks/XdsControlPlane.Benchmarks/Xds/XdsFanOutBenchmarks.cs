using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using XdsControlPlane.Benchmarks.Compilation;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// Push fan-out (issue 4): 1,000 SotW ADS streams on loopback against one real Kestrel (h2c), each
/// subscribed to everything and having ACKed the initial snapshot. One operation = one tenant's allowlist
/// changes → incremental compile → TrySetSnapshot → every stream has received and ACKed the new listener
/// version. Iterations alternate between two models, so each one is a real change. Per-stream latency
/// (from TrySetSnapshot to the stream's ACK being written) is printed at GlobalCleanup as p50/p99/max.
/// Goal: p99 ≤ 250 ms on 2 cores. The clients share the process (and the 2 cores) with the server.
/// </summary>
[InvocationCount(1)]
[WarmupCount(0)]
[IterationCount(2)]
[GcServer(true)]
public class XdsFanOutBenchmarks
{
    private const int Streams = 1_000;
    private const int Tenants = 1_000;
    private const int RangesPerTenant = 20;

    /// <summary>t000000: a Tunneling tenant (SNI + CONNECT), so the shared SNI listener and the tunneling routes change.</summary>
    private const int ChangedTenant = 0;

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
    private long _listenerBytes;

    // The round in flight: set before TrySetSnapshot, read by the client pumps.
    private volatile string? _target;
    private long _start;
    private long[] _roundLatency = [];
    private int _remaining;
    private TaskCompletionSource _allAcked = new();

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        var a = SyntheticSeed.Build(Tenants, RangesPerTenant);
        _models = [a, SyntheticSeed.WithOneListChanged(a, ChangedTenant, variant: 1)];
        _current = SeedCompiler.Compile(a);

        // The initial snapshot with its endpoints wrapped: counts how often each resource is serialised.
        var counted = CountingMessage.WrapEndpoints(_current.Snapshot);
        _endpointResources = counted.Get(TypeUrls.Endpoint).Resources.Count;
        CountingMessage.Reset();
        _server = await XdsBenchServer.StartAsync(counted);
        _fleet = await SotwFleet.ConnectAsync(_server.Address, Streams, (client, index) => client.OnAcked = (response, arrived) =>
        {
            if (response.TypeUrl == TypeUrls.Listener && response.VersionInfo == _target)
            {
                _roundLatency[index] = Stopwatch.GetTimestamp() - _start;
                if (Interlocked.Decrement(ref _remaining) == 0)
                {
                    _allAcked.TrySetResult();
                }
            }
        });
        _initialEndpointWrites = CountingMessage.Writes;
        BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
            $"fan-out setup: {Streams} SotW streams on {_fleet.Channels.Length} HTTP/2 connections ACKed the initial snapshot; " +
            $"{_endpointResources} endpoint resources were serialised {_initialEndpointWrites} times in all " +
            $"({(double)_initialEndpointWrites / _endpointResources:F2} per resource; once per stream would be {Streams})"));
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
        var next = SeedCompiler.Compile(_models[_iteration % 2], _current);
        _compileMs.Add(Latency.Ms(Stopwatch.GetTimestamp() - compileStart));
        var listeners = next.Snapshot.Get(TypeUrls.Listener);
        _target = listeners.Version;
        _start = Stopwatch.GetTimestamp();
        _server.Set(next.Snapshot);
        await _allAcked.Task.WaitAsync(TimeSpan.FromMinutes(2));
        _totals.Add(Stopwatch.GetTimestamp() - _start);
        _latencies.AddRange(_roundLatency);
        _perIteration.Add($"change {_iteration}: {Latency.Summary(_roundLatency)} total {Latency.Ms(_totals[^1]):F1} ms");
        _current = next;
        _listenerBytes = listeners.Resources.Values.Sum(r => (long)r.Bytes.Length);
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
        BenchReport.Line($"fan-out per-stream latency (TrySetSnapshot → stream ACKed the new LDS version), all iterations: {Latency.Summary(_latencies)}");
        BenchReport.Line($"fan-out total per change (TrySetSnapshot → last of {Streams} streams ACKed): {Latency.Summary(_totals)}");
        BenchReport.Line(string.Create(CultureInfo.InvariantCulture,
            $"fan-out incremental compile per change: mean {_compileMs.DefaultIfEmpty().Average():F1} ms; LDS state per push {_listenerBytes:N0} bytes of resources × {Streams} streams"));
        BenchReport.Line($"fan-out serialisation: endpoints {_initialEndpointWrites} writes for {_endpointResources} resources × {Streams} streams; " +
            $"listener Any instances shared and wrapping the one encoding: {shared}");
        _fleet.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
