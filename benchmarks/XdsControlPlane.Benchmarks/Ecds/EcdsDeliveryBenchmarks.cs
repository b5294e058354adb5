using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Google.Protobuf;
using XdsControlPlane.Benchmarks.Compilation;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Ecds;

/// <summary>
/// What one tenant's allowlist change costs on the wire in a 1,000-tenant seed, and the time to serialise
/// it: inline RBAC (the whole <c>sni_listener</c>, every tenant's chain, is re-sent) against ECDS (one
/// <c>TypedExtensionConfig</c>). The changed tenant is a Tunneling one (SNI chain + CONNECT virtual host).
/// Each method serialises afresh every resource whose version the change altered and returns the bytes.
/// Category "lds+ecds": the listener/ECDS part; "all": also the RDS route configuration, which carries the
/// tenant's per-virtual-host HTTP RBAC in both modes. "EcdsNarrowing": a narrowing renames the tenant's
/// filter, so sni_listener is re-sent as well (that is what drains the tenant's chain).
/// The byte counts are printed by GlobalSetup ("// bytes ...") into the run log.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class EcdsDeliveryBenchmarks
{
    private const int Tenants = 1_000;
    private const int ChangedTenant = 500; // 500 % 5 == 0: a Tunneling tenant

    private IMessage[] _inlineLds = null!, _ecdsLds = null!, _narrowLds = null!;
    private IMessage[] _inlineAll = null!, _ecdsAll = null!, _narrowAll = null!;

    [GlobalSetup]
    public void Setup()
    {
        var ecdsModel = SyntheticSeed.Build(Tenants, 20);
        var inlineModel = ecdsModel with { Seed = ecdsModel.Seed with { RbacDelivery = RbacDelivery.Inline } };
        (_inlineLds, _inlineAll) = Changed(inlineModel, Widen(inlineModel));
        (_ecdsLds, _ecdsAll) = Changed(ecdsModel, Widen(ecdsModel));
        (_narrowLds, _narrowAll) = Changed(ecdsModel, Narrow(ecdsModel));
        Console.WriteLine($"// bytes lds+ecds: inline {Bytes(_inlineLds)} ({Names(_inlineLds)}), ecds widening {Bytes(_ecdsLds)} ({Names(_ecdsLds)}), " +
            $"ecds narrowing {Bytes(_narrowLds)} ({Names(_narrowLds)})");
        Console.WriteLine($"// bytes all: inline {Bytes(_inlineAll)}, ecds widening {Bytes(_ecdsAll)}, ecds narrowing {Bytes(_narrowAll)}");
    }

    private static SeedModel Widen(SeedModel model) => Change(model, t => t.AllowedRanges.Append(CidrRange.Parse("100.64.0.0/10")));

    private static SeedModel Narrow(SeedModel model) => Change(model, t => t.AllowedRanges.Skip(1));

    private static SeedModel Change(SeedModel model, Func<Tenant, IEnumerable<CidrRange>> ranges)
    {
        var tenants = model.Tenants.ToArray();
        tenants[ChangedTenant] = tenants[ChangedTenant] with { AllowedRanges = ranges(tenants[ChangedTenant]).ToValueList() };
        return model with { Tenants = tenants.ToValueList() };
    }

    /// <summary>The resources whose version the change altered: those an Envoy is sent (SotW LDS re-sends all listeners; counted here as delta would).</summary>
    private static (IMessage[] Lds, IMessage[] All) Changed(SeedModel before, SeedModel after)
    {
        var previous = SeedCompiler.Compile(before);
        var next = SeedCompiler.Compile(after, previous);
        var changed = new List<(string Type, IMessage Message)>();
        foreach (var (typeUrl, set) in next.Snapshot.ByType)
        {
            var old = previous.Snapshot.Get(typeUrl).Resources;
            foreach (var (name, resource) in set.Resources)
            {
                if (!old.TryGetValue(name, out var was) || was.Version != resource.Version)
                {
                    changed.Add((typeUrl, resource.Message));
                }
            }
        }
        return (changed.Where(c => c.Type is TypeUrls.Listener or TypeUrls.ExtensionConfig).Select(c => c.Message).ToArray(),
            changed.Select(c => c.Message).ToArray());
    }

    private static long Bytes(IMessage[] messages) => messages.Sum(m => (long)m.CalculateSize());

    private static string Names(IMessage[] messages) => string.Join(", ", messages.Select(m => m.Descriptor.Name));

    private static long Serialize(IMessage[] messages)
    {
        long bytes = 0;
        foreach (var message in messages)
        {
            bytes += message.ToByteString().Length;
        }
        return bytes;
    }

    [Benchmark(Baseline = true), BenchmarkCategory("lds+ecds")]
    public long Inline() => Serialize(_inlineLds);

    [Benchmark, BenchmarkCategory("lds+ecds")]
    public long EcdsWidening() => Serialize(_ecdsLds);

    [Benchmark, BenchmarkCategory("lds+ecds")]
    public long EcdsNarrowing() => Serialize(_narrowLds);

    [Benchmark(Baseline = true), BenchmarkCategory("all")]
    public long InlineAll() => Serialize(_inlineAll);

    [Benchmark, BenchmarkCategory("all")]
    public long EcdsWideningAll() => Serialize(_ecdsAll);

    [Benchmark, BenchmarkCategory("all")]
    public long EcdsNarrowingAll() => Serialize(_narrowAll);
}
