namespace XdsControlPlane.Cidr.Tests;

public class ConcurrencyTests
{
    [Fact]
    public async Task ConcurrentReadersIncludingLazyMembersSeeTheSameAnswers()
    {
        var rng = new Random(99);
        var ranges = Gen.MixedList(rng, 1500);
        var probes = Gen.Probes(rng, 2000, ranges);
        var expected = probes.Select(new Reference(ranges).Contains).ToArray();
        var set = CidrSet.Build(ranges);

        // Normalized and Match build their structures on first use; every reader races for that first use.
        var readers = Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            int mismatches = 0;
            _ = set.Normalized.Count;
            for (int i = worker; i < probes.Count; i += 2)
            {
                var ip = probes[i].ToIPAddress();
                mismatches += set.Contains(ip) == expected[i] ? 0 : 1;
                mismatches += set.Match(ip).IsMatch == expected[i] ? 0 : 1;
            }

            return mismatches;
        })).ToArray();
        int[] results = await Task.WhenAll(readers);

        Assert.All(results, m => Assert.Equal(0, m));
        Assert.Same(set.Normalized, set.Normalized);
    }
}
