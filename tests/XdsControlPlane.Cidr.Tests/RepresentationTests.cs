using System.Runtime.CompilerServices;

namespace XdsControlPlane.Cidr.Tests;

/// <summary>
/// A set keeps only its ranges and normalised prefixes (ranges as two ulongs, IPv4 intervals packed in
/// one ulong while normalising) and derives the rest; these pin the edges where that could go wrong.
/// </summary>
public class RepresentationTests
{
    private static readonly UInt128 Top = UInt128.MaxValue;

    [Fact]
    public void ARangeIsTwentyFourBytes()
    {
        // A UInt128 field would pad it to 32: a third more for every list of ranges kept per tenant.
        Assert.Equal(24, Unsafe.SizeOf<CidrRange>());
    }

    [Fact]
    public void OrderAndEqualityUseBothHalvesOfAnIPv6Network()
    {
        var lowHalfFull = CidrRange.FromIPv6(new UInt128(0, ulong.MaxValue), 128);
        var highHalfOne = CidrRange.FromIPv6(new UInt128(1, 0), 128);

        Assert.True(lowHalfFull < highHalfOne);
        Assert.NotEqual(lowHalfFull, highHalfOne);
        Assert.NotEqual(highHalfOne, CidrRange.FromIPv6(new UInt128(1, 1), 128));
        Assert.Equal(highHalfOne, CidrRange.Parse("0:0:0:1::/128"));
        Assert.Equal(highHalfOne.GetHashCode(), CidrRange.Parse("0:0:0:1::/128").GetHashCode());
        Assert.Equal("::ffff:ffff:ffff:ffff/128", lowHalfFull.ToString());
        Assert.True(CidrRange.Parse("0:0:0:1::/64").Contains(highHalfOne));
        Assert.False(CidrRange.Parse("0:0:0:1::/64").Contains(lowHalfFull));
    }

    [Fact]
    public void LookupsMatchExactlyAtTheEdgesOfTheAddressSpaces()
    {
        // Adjacent but not sibling prefixes are one interval for the lookup index.
        var v4 = CidrSet.Parse(["255.255.255.254/31", "10.0.1.0/25", "0.0.0.0/32", "10.0.0.0/24"]);

        Assert.True(v4.Contains(0u));
        Assert.False(v4.Contains(1u));
        Assert.True(v4.Contains(uint.MaxValue));
        Assert.True(v4.Contains(uint.MaxValue - 1));
        Assert.False(v4.Contains(uint.MaxValue - 2));
        Assert.False(v4.Contains(0x09FFFFFFu));
        Assert.True(v4.Contains(0x0A000000u));
        Assert.True(v4.Contains(0x0A00017Fu));
        Assert.False(v4.Contains(0x0A000180u));
        Assert.False(v4.Contains(Top));

        var v6 = CidrSet.Parse([
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff8/125",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff4/126",
            "::ffff:ffff:ffff:ffff/128",
            "0:0:0:1::/127",
        ]);

        Assert.Equal(4, v6.Normalized.Count);
        Assert.True(v6.Contains(Top));
        Assert.True(v6.Contains(Top - 11));
        Assert.False(v6.Contains(Top - 12));
        Assert.True(v6.Contains(new UInt128(0, ulong.MaxValue)));
        Assert.False(v6.Contains(new UInt128(0, ulong.MaxValue - 1)));
        Assert.True(v6.Contains(new UInt128(1, 0)));
        Assert.True(v6.Contains(new UInt128(1, 1)));
        Assert.False(v6.Contains(new UInt128(1, 2)));
        Assert.False(v6.Contains(0u));
    }

    [Fact]
    public void CoversAndSetEqualsWorkOnTheNormalisedPrefixes()
    {
        var adjacent = CidrSet.Parse(["10.0.2.0/24", "10.0.1.0/24"]);

        Assert.Equal(["10.0.1.0/24", "10.0.2.0/24"], adjacent.Normalized.Select(r => r.ToString()));
        Assert.True(adjacent.Covers(CidrSet.Parse(["10.0.1.128/25", "10.0.2.0/24", "10.0.1.0/32"])));
        Assert.True(adjacent.Covers(CidrSet.Parse(["10.0.2.0/24", "10.0.1.0/24"])));
        Assert.False(adjacent.Covers(CidrSet.Parse(["10.0.2.0/23"])));
        Assert.False(adjacent.Covers(CidrSet.Parse(["10.0.0.0/22"])));
        Assert.False(adjacent.Covers(CidrSet.Parse(["10.0.1.0/24", "10.0.3.0/32"])));

        var halves = CidrSet.Parse(["128.0.0.0/1", "0.0.0.0/1"]);
        Assert.True(halves.Covers(CidrSet.Parse(["255.255.255.255/32", "0.0.0.0/32", "0.0.0.0/0"])));
        Assert.False(halves.Covers(CidrSet.Parse(["0.0.0.0/32", "::/128"])));
        Assert.False(CidrSet.Parse(["::/0"]).Covers(CidrSet.Parse(["10.0.0.0/8"])));
        Assert.True(CidrSet.Parse(["::/0", "0.0.0.0/0"]).Covers(CidrSet.Parse(["2001:db8::/32", "10.0.0.0/8", "::/0"])));

        Assert.True(halves.SetEquals(CidrSet.Parse(["0.0.0.0/0"])));
        Assert.True(adjacent.SetEquals(CidrSet.Parse(["10.0.1.0/25", "10.0.1.128/25", "10.0.2.0/24", "10.0.2.0/24"])));
        Assert.False(adjacent.SetEquals(CidrSet.Parse(["10.0.1.0/24"])));
        Assert.False(adjacent.SetEquals(CidrSet.Parse(["10.0.1.0/24", "10.0.2.0/24", "::/128"])));
        Assert.True(CidrSet.Empty.SetEquals(CidrSet.Build([])));
    }

    [Fact]
    public void RangesAndNormalizedAreReadOnlyWithOneIdentity()
    {
        var set = CidrSet.Parse(["10.0.0.0/8", "1.0.0.0/8", "10.0.0.0/8"]);
        var sorted = CidrSet.Parse(["1.0.0.0/8", "10.0.0.0/8", "2001:db8::/32"]);
        var everything = CidrRange.Parse("0.0.0.0/0");

        foreach (var list in new[] { set.Ranges, set.Normalized, sorted.Ranges, sorted.Normalized, CidrSet.Empty.Ranges })
        {
            Assert.False(list is CidrRange[], "a list must not be an array a caller can cast back and write");
            Assert.True(list is not IList<CidrRange> writable || writable.IsReadOnly);
        }

        Assert.Throws<NotSupportedException>(() => ((IList<CidrRange>)set.Ranges)[0] = everything);
        Assert.Throws<NotSupportedException>(() => ((IList<CidrRange>)sorted.Ranges)[0] = everything);
        Assert.Throws<NotSupportedException>(() => ((IList<CidrRange>)sorted.Normalized)[0] = everything);
        Assert.Same(set.Ranges, set.Ranges);
        Assert.Same(sorted.Ranges, sorted.Ranges);
        Assert.Equal(["10.0.0.0/8", "1.0.0.0/8", "10.0.0.0/8"], set.Ranges.Select(r => r.ToString()));
        Assert.Equal(["1.0.0.0/8", "10.0.0.0/8", "2001:db8::/32"], sorted.Ranges.Select(r => r.ToString()));
        Assert.Equal(sorted.Ranges, sorted.Normalized);
        Assert.False(sorted.Contains(0x0B000000u));
    }

    [Fact]
    public void UnionKeepsEveryRangeInOrderAndNormalisesOnce()
    {
        var union = CidrSet.Parse(["10.0.0.0/8", "2001:db8::/33"]).Union(CidrSet.Parse(["1.0.0.0/8", "10.0.0.0/8", "2001:db8:8000::/33"]));

        Assert.Equal(["10.0.0.0/8", "2001:db8::/33", "1.0.0.0/8", "10.0.0.0/8", "2001:db8:8000::/33"], union.Ranges.Select(r => r.ToString()));
        Assert.Equal(["1.0.0.0/8", "10.0.0.0/8", "2001:db8::/32"], union.Normalized.Select(r => r.ToString()));
        Assert.True(union.Contains(new UInt128(0x20010DB8FFFFFFFF, ulong.MaxValue)));
        Assert.False(union.Contains(new UInt128(0x20010DB900000000, 0)));
    }
}
