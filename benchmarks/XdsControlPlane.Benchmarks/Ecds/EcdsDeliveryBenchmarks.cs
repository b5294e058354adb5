using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using XdsControlPlane.Benchmarks.Compilation;
using XdsControlPlane.Benchmarks.Xds;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Ecds;

/// <summary>
/// What one tenant's allowlist change costs on the wire in a 1,000-tenant seed, and the time to produce it:
/// inline RBAC (the whole <c>sni_listener</c>, every tenant's chain, is re-sent) against ECDS (one
/// <c>TypedExtensionConfig</c>). The changed tenant is a Tunneling one (SNI chain + CONNECT virtual host).
/// Each method compiles the change incrementally, as the server does, and encodes every resource whose version
/// it altered, returning the bytes. Category "lds+ecds": the listener/ECDS part; "all": also the RDS route
/// configuration, which carries the tenant's per-virtual-host HTTP RBAC in both modes. "EcdsNarrowing": a
/// narrowing renames the tenant's filter, so sni_listener is re-sent as well (that is what drains the tenant's
/// chain). The byte counts are printed by GlobalSetup into the run log.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class EcdsDeliveryBenchmarks
{
    private const int Tenants = 1_000;
    private const int ChangedTenant = 500; // 500 % 5 == 0: a Tunneling tenant

    private Change _inline = null!, _widening = null!, _narrowing = null!;

    /// <summary>A compiled seed and the model one change away from it.</summary>
    private sealed record Change(CompiledSeed Before, SeedModel After)
    {
        /// <summary>The change compiled, and the resources it sends (LDS and ECDS only, or every type).</summary>
        public IEnumerable<EnvoyResource> Sent(bool listenersOnly) =>
            SnapshotChanges.Changed(Before.Snapshot, SeedCompiler.Compile(After, Before).Snapshot)
                .Where(c => !listenersOnly || c.TypeUrl is TypeUrls.Listener or TypeUrls.ExtensionConfig)
                .Select(c => c.Resource);

        /// <summary>Those resources encoded: their bytes.</summary>
        public long Send(bool listenersOnly) => Sent(listenersOnly).Sum(r => (long)r.Bytes.Length);
    }

    [GlobalSetup]
    public void Setup()
    {
        var ecdsModel = SyntheticSeed.Build(Tenants, 20);
        var inlineModel = ecdsModel with { Seed = ecdsModel.Seed with { RbacDelivery = RbacDelivery.Inline } };
        var ranges = ecdsModel.Tenants[ChangedTenant].AllowedRanges;
        var ecds = SeedCompiler.Compile(ecdsModel);
        _inline = new Change(SeedCompiler.Compile(inlineModel),
            SyntheticSeed.WithRanges(inlineModel, ChangedTenant, ranges.Append(CidrRange.Parse("100.64.0.0/10"))));
        _widening = new Change(ecds, SyntheticSeed.WithRanges(ecdsModel, ChangedTenant, ranges.Append(CidrRange.Parse("100.64.0.0/10"))));
        _narrowing = new Change(ecds, SyntheticSeed.WithRanges(ecdsModel, ChangedTenant, ranges.Skip(1)));
        foreach (var (name, change) in new[] { ("inline", _inline), ("ecds widening", _widening), ("ecds narrowing", _narrowing) })
        {
            var names = string.Join(", ", change.Sent(listenersOnly: true).Select(r => r.Name));
            BenchReport.Line($"ecds delivery, {Tenants} tenants, one tenant's allowlist changed, {name}: lds+ecds " +
                $"{change.Send(listenersOnly: true):N0} bytes ({names}), all types {change.Send(listenersOnly: false):N0} bytes");
        }
    }

    [Benchmark(Baseline = true), BenchmarkCategory("lds+ecds")]
    public long Inline() => _inline.Send(listenersOnly: true);

    [Benchmark, BenchmarkCategory("lds+ecds")]
    public long EcdsWidening() => _widening.Send(listenersOnly: true);

    [Benchmark, BenchmarkCategory("lds+ecds")]
    public long EcdsNarrowing() => _narrowing.Send(listenersOnly: true);

    [Benchmark(Baseline = true), BenchmarkCategory("all")]
    public long InlineAll() => _inline.Send(listenersOnly: false);

    [Benchmark, BenchmarkCategory("all")]
    public long EcdsWideningAll() => _widening.Send(listenersOnly: false);

    [Benchmark, BenchmarkCategory("all")]
    public long EcdsNarrowingAll() => _narrowing.Send(listenersOnly: false);
}
