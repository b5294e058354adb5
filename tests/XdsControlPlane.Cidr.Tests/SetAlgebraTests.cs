namespace XdsControlPlane.Cidr.Tests;

public class SetAlgebraTests
{
    private static (List<CidrRange> A, List<CidrRange> B) RandomPair(Random rng)
    {
        var a = rng.Next(2) == 0 ? Gen.V4List(rng, rng.Next(1, 80)) : Gen.MixedList(rng, rng.Next(1, 80));
        List<CidrRange> b;
        switch (rng.Next(4))
        {
            case 0:
                // A subset of A: pieces of A's own ranges, so Covers is often true.
                b = [];
                foreach (var r in a.Where(_ => rng.Next(3) == 0))
                {
                    int width = r.IsIPv4 ? 32 : 128;
                    int p = rng.Next(r.PrefixLength, width + 1);
                    UInt128 net = Reference.ValueOf(r.Network) | (Gen.NextUInt128(rng) & ~Reference.Mask(width, r.PrefixLength) & Reference.Mask(width, p) & (r.IsIPv4 ? uint.MaxValue : UInt128.MaxValue));
                    b.Add(r.IsIPv4 ? CidrRange.FromIPv4((uint)net, p) : CidrRange.FromIPv6(net, p));
                }

                break;
            case 1:
                b = [.. a.Where(_ => rng.Next(2) == 0), .. Gen.V4List(rng, 3)];
                break;
            default:
                b = rng.Next(2) == 0 ? Gen.V4List(rng, rng.Next(0, 80)) : Gen.MixedList(rng, rng.Next(0, 80));
                break;
        }

        return (a, b);
    }

    [Fact]
    public void UnionExceptAndCoversAgreeWithTheReference()
    {
        int coveredCount = 0, notCoveredCount = 0;
        for (int seed = 2000; seed < 2400; seed++)
        {
            var rng = new Random(seed);
            var (a, b) = RandomPair(rng);
            var setA = CidrSet.Build(a);
            var setB = CidrSet.Build(b);
            var union = setA.Union(setB);
            var except = setA.Except(setB);
            var refA = new Reference(a);
            var refB = new Reference(b);
            string context = $"seed {seed} (|A|={a.Count}, |B|={b.Count})";

            bool covers = true;
            foreach (var p in Gen.Probes(rng, 300, a, b, except.Normalized, union.Normalized))
            {
                bool inA = refA.Contains(p), inB = refB.Contains(p);
                Assert.True(Gen.Contains(union, p) == (inA || inB), $"{context}: union at {p}");
                Assert.True(Gen.Contains(except, p) == (inA && !inB), $"{context}: except at {p}");
                covers &= !inB || inA;
            }

            Assert.True(covers == setA.Covers(setB), $"{context}: Covers expected {covers}");
            Assert.True(setA.Covers(except), $"{context}: A covers A-B");
            Assert.True(union.Covers(setA) && union.Covers(setB), $"{context}: union covers both");
            Assert.Equal(a.Count + b.Count, union.Ranges.Count);
            Assert.Equal(except.Normalized, except.Ranges);
            NormalizationTests.AssertMinimal(except.Normalized, context);
            NormalizationTests.AssertMinimal(union.Normalized, context);
            if (covers)
            {
                coveredCount++;
            }
            else
            {
                notCoveredCount++;
            }
        }

        Assert.True(coveredCount > 20 && notCoveredCount > 20, $"generator imbalance: {coveredCount} covered, {notCoveredCount} not");
    }

    [Fact]
    public void ExceptSplitsPrefixesExactly()
    {
        var result = CidrSet.Parse(["10.0.0.0/8"]).Except(CidrSet.Parse(["10.1.2.3/32"]));

        Assert.Equal(24, result.Normalized.Count);
        Assert.False(result.Contains(0x0A010203u));
        Assert.True(result.Contains(0x0A010202u));
        Assert.True(result.Contains(0x0A010204u));
        Assert.Equal("10.0.0.0/16", result.Normalized[0].ToString());
        Assert.True(result.Union(CidrSet.Parse(["10.1.2.3/32"])).SetEquals(CidrSet.Parse(["10.0.0.0/8"])));
    }

    [Fact]
    public void ExceptOfEverythingIsEmptyAndEmptyIsCoveredByAnything()
    {
        var all = CidrSet.Parse(["0.0.0.0/0", "::/0"]);

        Assert.True(all.Except(all).IsEmpty);
        Assert.True(CidrSet.Empty.Covers(CidrSet.Empty));
        Assert.True(CidrSet.Parse(["10.0.0.0/8"]).Covers(CidrSet.Empty));
        Assert.False(CidrSet.Empty.Covers(CidrSet.Parse(["10.0.0.0/32"])));
        Assert.False(CidrSet.Parse(["0.0.0.0/0"]).Covers(CidrSet.Parse(["::/128"])));
        Assert.Same(all, all.Union(CidrSet.Empty));
    }
}
