using BenchmarkDotNet.Attributes;
using XdsControlPlane.Benchmarks.Compilation;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Planning;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// What one delta ADS stream costs to plan a push (issue 12): one tenant's allowlist changes among 100, 1,000 and
/// 10,000 tenants; the stream is a wildcard on every type, settled (sent and ACKed) against the snapshot before.
/// One operation plans every type's response against the next snapshot and records it as sent and ACKed, as the
/// stream does; no bytes are written (the responses' resources are shared, built once per snapshot).
/// The baseline is the comparison every delta push used to make: every resource against what the client holds
/// (the same planner, told the client's state was not settled against the set the new one derives from).
/// </summary>
/// <remarks>
/// Every operation must find a snapshot derived from the one its stream was settled against, as a running server
/// does. So the snapshots are a chain made in the setup, each derived from the one before by the change (A to B,
/// then B back to A, ...), one link per operation; each iteration starts a fresh stream at the chain's start.
/// </remarks>
[InvocationCount(Operations)]
public class DeltaPushBenchmarks
{
    private const int Operations = 512;
    private const int RangesPerTenant = 20;

    private ResourceSet[][] _chain = [];
    private Dictionary<string, Subscription> _stream = new(StringComparer.Ordinal);
    private int _next;

    [Params(100, 1_000, 10_000)]
    public int Tenants { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var a = SyntheticSeed.Build(Tenants, RangesPerTenant);
        // Tenant 0 is a Tunneling tenant: its change touches the shared SNI and CONNECT listeners too.
        var before = SeedCompiler.Compile(a).Snapshot;
        var after = SeedCompiler.Compile(SyntheticSeed.WithOneListChanged(a, 0, variant: 1), SeedCompiler.Compile(a)).Snapshot;
        _chain = new ResourceSet[TypeUrls.PushOrder.Count][];
        for (var t = 0; t < TypeUrls.PushOrder.Count; t++)
        {
            var type = TypeUrls.PushOrder[t];
            var (from, to) = (before.Get(type), after.Get(type));
            (EnvoyResource[] Upserts, string[] Removals)[] changes =
            [
                ([.. SnapshotChanges.Changed(from, to)], [.. SnapshotChanges.Removed(from, to)]),
                ([.. SnapshotChanges.Changed(to, from)], [.. SnapshotChanges.Removed(to, from)]),
            ];
            var links = new ResourceSet[Operations + 1];
            links[0] = from;
            for (var i = 1; i < links.Length; i++)
            {
                var (upserts, removals) = changes[(i - 1) % 2];
                links[i] = links[i - 1].With(upserts, removals);
            }
            _chain[t] = links;
        }
    }

    [IterationSetup]
    public void FreshStream()
    {
        _stream = new Dictionary<string, Subscription>(StringComparer.Ordinal);
        foreach (var type in TypeUrls.PushOrder)
        {
            var sub = new Subscription(type);
            sub.ApplyDelta([], [], Empty, "", null, DateTimeOffset.UnixEpoch, out _);
            _stream[type] = sub;
        }
        _next = 0;
        Push(compare: false);
    }

    private static readonly Dictionary<string, string> Empty = [];

    [Benchmark(Baseline = true, Description = "compare every resource")]
    public int CompareEverything() => Push(compare: true);

    [Benchmark(Description = "change set (TryGetChangedSince)")]
    public int ChangeSet() => Push(compare: false);

    private int Push(bool compare)
    {
        var link = _next++;
        var sent = 0;
        for (var t = 0; t < TypeUrls.PushOrder.Count; t++)
        {
            var sub = _stream[TypeUrls.PushOrder[t]];
            if (compare)
            {
                sub.ChangesFrom = null;
            }
            if (ResponsePlanner.PlanDelta(sub, _chain[t][link], _stream, ads: true) is not { } plan)
            {
                continue;
            }
            var nonce = link.ToString(System.Globalization.CultureInfo.InvariantCulture);
            sub.Sent(plan, nonce, DateTimeOffset.UnixEpoch);
            sub.ApplyDelta([], [], Empty, nonce, null, DateTimeOffset.UnixEpoch, out _);
            sent += plan.Resources.Count + plan.Removed.Count;
        }
        return sent;
    }
}
