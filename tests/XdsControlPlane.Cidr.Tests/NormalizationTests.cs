namespace XdsControlPlane.Cidr.Tests;

public class NormalizationTests
{
    [Theory]
    [InlineData("v4")]
    [InlineData("v6")]
    [InlineData("mixed")]
    public void NormalizedHasIdenticalCoverageAndIsMinimal(string family)
    {
        for (int seed = 1000; seed < 1300; seed++)
        {
            var rng = new Random(seed);
            int count = rng.Next(1, 200);
            var ranges = family switch
            {
                "v4" => Gen.V4List(rng, count),
                "v6" => Gen.V6List(rng, count),
                _ => Gen.MixedList(rng, count),
            };
            var normalized = CidrSet.Build(ranges).Normalized;
            string context = $"seed {seed} ({family}, {count} ranges)";

            AssertSameCoverage(ranges, normalized, rng, context);
            AssertMinimal(normalized, context);
        }
    }

    [Theory]
    [InlineData(new[] { "10.0.0.0/8", "10.0.0.0/8", "10.1.0.0/16" }, new[] { "10.0.0.0/8" })]
    [InlineData(new[] { "10.0.0.0/9", "10.128.0.0/9" }, new[] { "10.0.0.0/8" })]
    [InlineData(new[] { "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24" }, new[] { "10.0.0.0/23", "10.0.2.0/24" })]
    [InlineData(new[] { "10.0.1.0/24", "10.0.2.0/24" }, new[] { "10.0.1.0/24", "10.0.2.0/24" })]
    [InlineData(new[] { "0.0.0.0/1", "128.0.0.0/1" }, new[] { "0.0.0.0/0" })]
    [InlineData(new[] { "255.255.255.255/32", "255.255.255.254/32", "0.0.0.0/32" }, new[] { "0.0.0.0/32", "255.255.255.254/31" })]
    [InlineData(new[] { "255.0.0.0/8", "255.255.255.0/24", "255.255.255.255/32", "0.0.0.0/32" }, new[] { "0.0.0.0/32", "255.0.0.0/8" })]
    [InlineData(new[] { "255.255.255.255/32", "0.0.0.1/32", "0.0.0.0/32", "255.255.255.254/31" }, new[] { "0.0.0.0/31", "255.255.255.254/31" })]
    [InlineData(new[] { "128.0.0.0/1", "0.0.0.0/0", "255.255.255.255/32" }, new[] { "0.0.0.0/0" })]
    [InlineData(
        new[] { "0.0.0.128/25", "0.0.0.1/32", "0.0.0.64/26", "0.0.0.2/31", "0.0.0.32/27", "0.0.0.4/30", "0.0.0.16/28", "0.0.0.8/29" },
        new[] { "0.0.0.1/32", "0.0.0.2/31", "0.0.0.4/30", "0.0.0.8/29", "0.0.0.16/28", "0.0.0.32/27", "0.0.0.64/26", "0.0.0.128/25" })]
    [InlineData(new[] { "2001:db8::/33", "2001:db8:8000::/33", "::ffff:10.0.0.0/104" }, new[] { "10.0.0.0/8", "2001:db8::/32" })]
    [InlineData(new[] { "0:0:0:1::/128", "::ffff:ffff:ffff:ffff/128" }, new[] { "::ffff:ffff:ffff:ffff/128", "0:0:0:1::/128" })]
    [InlineData(
        new[] { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/128" },
        new[] { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127" })]
    [InlineData(new[] { "::/1", "8000::/1", "::1/128" }, new[] { "::/0" })]
    [InlineData(new string[0], new string[0])]
    public void KnownListsNormalizeExactly(string[] input, string[] expected)
    {
        var set = CidrSet.Parse(input);

        Assert.Equal(expected, set.Normalized.Select(r => r.ToString()));
        Assert.Equal(input.Length, set.Ranges.Count);
        Assert.Equal(input.Select(s => CidrRange.Parse(s)), set.Ranges);
    }

    [Fact]
    public void RangesKeepOriginalOrderAndDuplicates()
    {
        var set = CidrSet.Parse(["10.0.0.0/8", "1.0.0.0/8", "10.0.0.0/8"]);

        Assert.Equal(["10.0.0.0/8", "1.0.0.0/8", "10.0.0.0/8"], set.Ranges.Select(r => r.ToString()));
        Assert.Equal(["1.0.0.0/8", "10.0.0.0/8"], set.Normalized.Select(r => r.ToString()));
    }

    internal static void AssertSameCoverage(IReadOnlyList<CidrRange> expected, IReadOnlyList<CidrRange> actual, Random rng, string context)
    {
        var want = new Reference(expected);
        var got = new Reference(actual);
        foreach (var probe in Gen.Probes(rng, 200, expected, actual))
        {
            Assert.True(want.Contains(probe) == got.Contains(probe), $"{context}: coverage differs at {probe} (input {want.Contains(probe)})");
        }
    }

    /// <summary>
    /// Sorted, pairwise disjoint and no two siblings: then no set of outputs can be replaced by a shorter
    /// prefix (the smallest such supernet would have two outputs as its halves), so the list is minimal.
    /// </summary>
    internal static void AssertMinimal(IReadOnlyList<CidrRange> normalized, string context)
    {
        for (int i = 1; i < normalized.Count; i++)
        {
            var a = normalized[i - 1];
            var b = normalized[i];
            Assert.True(a.CompareTo(b) < 0, $"{context}: {a} and {b} are out of order");
            if (a.IsIPv4 != b.IsIPv4)
            {
                continue;
            }

            int width = a.IsIPv4 ? 32 : 128;
            UInt128 aLast = Reference.ValueOf(a.Network) | (~Reference.Mask(width, a.PrefixLength) & (a.IsIPv4 ? uint.MaxValue : UInt128.MaxValue));
            Assert.True(aLast < Reference.ValueOf(b.Network), $"{context}: {a} overlaps or contains {b}");
            bool siblings = a.PrefixLength == b.PrefixLength && a.PrefixLength > 0
                && (Reference.ValueOf(a.Network) ^ Reference.ValueOf(b.Network)) == UInt128.One << (width - a.PrefixLength);
            Assert.False(siblings, $"{context}: {a} and {b} should have been merged into one prefix");
        }
    }
}
