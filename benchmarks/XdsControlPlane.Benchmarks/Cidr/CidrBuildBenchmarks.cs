using BenchmarkDotNet.Attributes;
using XdsControlPlane.Cidr;

namespace XdsControlPlane.Benchmarks.Cidr;

/// <summary>
/// Compile and normalise cost. Allocated divided by RangeCount is the build's memory per range;
/// the retained lookup arrays are printed by <see cref="Setup"/> as well.
/// </summary>
public class CidrBuildBenchmarks
{
    private CidrRange[] _v4 = [];
    private CidrRange[] _v6 = [];
    private CidrRange[] _mixed = [];

    [Params(10_000, 100_000)]
    public int RangeCount { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _v4 = CidrBenchmarkData.V4Ranges(RangeCount);
        _v6 = CidrBenchmarkData.V6Ranges(RangeCount);
        _mixed = [.. CidrBenchmarkData.V4Ranges(RangeCount / 2, seed: 1), .. CidrBenchmarkData.V6Ranges(RangeCount - (RangeCount / 2), seed: 2)];
        var v4 = CidrSet.Build(_v4);
        var v6 = CidrSet.Build(_v6);
        Console.WriteLine(
            $"// retained lookup arrays: IPv4 {v4.LookupSizeInBytes / (double)RangeCount:F1} B/range, " +
            $"IPv6 {v6.LookupSizeInBytes / (double)RangeCount:F1} B/range ({RangeCount} ranges)");
    }

    [Benchmark]
    public CidrSet BuildIPv4() => CidrSet.Build(_v4);

    [Benchmark]
    public CidrSet BuildIPv6() => CidrSet.Build(_v6);

    [Benchmark]
    public int NormalizeMixed() => CidrSet.Build(_mixed).Normalized.Count;
}
