using System.Net;
using BenchmarkDotNet.Attributes;
using XdsControlPlane.Cidr;

namespace XdsControlPlane.Benchmarks.Cidr;

/// <summary>Per-lookup cost of <see cref="CidrSet.Contains(IPAddress)"/> as the list grows.</summary>
public class CidrLookupBenchmarks
{
    private const int Lookups = 1024;

    private CidrSet _v4 = CidrSet.Empty;
    private CidrSet _v6 = CidrSet.Empty;
    private IPAddress[] _v4Addresses = [];
    private uint[] _v4Raw = [];
    private IPAddress[] _v6Addresses = [];

    [Params(10, 1_000, 10_000, 100_000)]
    public int RangeCount { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var v4 = CidrBenchmarkData.V4Ranges(RangeCount);
        var v6 = CidrBenchmarkData.V6Ranges(RangeCount);
        _v4 = CidrSet.Build(v4);
        _v6 = CidrSet.Build(v6);
        _v4Addresses = CidrBenchmarkData.Addresses(v4, Lookups);
        _v4Raw = [.. _v4Addresses.Select(CidrBenchmarkData.ToUInt32)];
        _v6Addresses = CidrBenchmarkData.Addresses(v6, Lookups);
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int ContainsIPv4()
    {
        int hits = 0;
        foreach (var address in _v4Addresses)
        {
            hits += _v4.Contains(address) ? 1 : 0;
        }

        return hits;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int ContainsIPv4UInt32()
    {
        int hits = 0;
        foreach (uint address in _v4Raw)
        {
            hits += _v4.Contains(address) ? 1 : 0;
        }

        return hits;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int ContainsIPv6()
    {
        int hits = 0;
        foreach (var address in _v6Addresses)
        {
            hits += _v6.Contains(address) ? 1 : 0;
        }

        return hits;
    }
}
