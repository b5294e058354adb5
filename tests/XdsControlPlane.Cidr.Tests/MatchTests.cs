namespace XdsControlPlane.Cidr.Tests;

public class MatchTests
{
    [Fact]
    public void MatchReturnsEveryOriginalRangeMostSpecificFirst()
    {
        for (int seed = 3000; seed < 3100; seed++)
        {
            var rng = new Random(seed);
            var ranges = Gen.MixedList(rng, rng.Next(1, 150));
            var set = CidrSet.Build(ranges);
            foreach (var probe in Gen.Probes(rng, 100, ranges).Where((_, i) => i % 3 == 0))
            {
                var match = set.Match(probe.ToIPAddress());
                var expected = Reference.Matching(ranges, probe);
                string context = $"seed {seed}, address {probe}";

                Assert.True(expected.SequenceEqual(match.MatchedRanges), $"{context}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", match.MatchedRanges)}]");
                Assert.True(match.IsMatch == Gen.Contains(set, probe), $"{context}: IsMatch disagrees with Contains");
                Assert.Equal(expected.Count > 0 ? expected[0] : null, match.MostSpecific);
            }
        }
    }

    [Fact]
    public void DebugAnswerNamesTheRangesThatAllowedTheAddress()
    {
        var set = CidrSet.Parse(["10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16", "10.1.2.0/24", "192.168.0.0/16"]);

        var match = set.Match(System.Net.IPAddress.Parse("::ffff:10.1.2.3"));

        Assert.True(match.IsMatch);
        Assert.Equal(["10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8"], match.MatchedRanges.Select(r => r.ToString()));
        Assert.Equal(CidrRange.Parse("10.1.2.0/24"), match.MostSpecific);

        var miss = set.Match(System.Net.IPAddress.Parse("11.0.0.1"));
        Assert.False(miss.IsMatch);
        Assert.Empty(miss.MatchedRanges);
        Assert.Null(miss.MostSpecific);
    }
}
