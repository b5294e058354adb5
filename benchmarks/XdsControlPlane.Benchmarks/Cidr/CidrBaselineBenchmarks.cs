using System.Net;
using BenchmarkDotNet.Attributes;
using XdsControlPlane.Cidr;

namespace XdsControlPlane.Benchmarks.Cidr;

/// <summary>
/// The precompiled set against the loops a .NET developer would otherwise write, at 1,000 IPv4 ranges.
/// The set is the baseline, so each loop's Ratio reads directly as "times slower".
/// </summary>
public class CidrBaselineBenchmarks
{
    private const int RangeCount = 1_000;
    private const int Lookups = 256;

    private CidrSet _set = CidrSet.Empty;
    private IPNetwork[] _bcl = [];
    private IPNetwork2[] _ipNetwork2 = [];
    private IPAddress[] _addresses = [];

    [GlobalSetup]
    public void Setup()
    {
        var ranges = CidrBenchmarkData.V4Ranges(RangeCount);
        _set = CidrSet.Build(ranges);
        _bcl = [.. ranges.Select(r => new IPNetwork(r.Network, r.PrefixLength))];
        _ipNetwork2 = [.. ranges.Select(r => IPNetwork2.Parse(r.ToString()))];
        _addresses = CidrBenchmarkData.Addresses(ranges, Lookups);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Lookups)]
    public int CidrSetContains()
    {
        int hits = 0;
        foreach (var address in _addresses)
        {
            hits += _set.Contains(address) ? 1 : 0;
        }

        return hits;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int SystemNetIPNetworkLoop()
    {
        int hits = 0;
        foreach (var address in _addresses)
        {
            foreach (var network in _bcl)
            {
                if (network.Contains(address))
                {
                    hits++;
                    break;
                }
            }
        }

        return hits;
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int IPNetwork2Loop()
    {
        int hits = 0;
        foreach (var address in _addresses)
        {
            foreach (var network in _ipNetwork2)
            {
                if (network.Contains(address))
                {
                    hits++;
                    break;
                }
            }
        }

        return hits;
    }
}
