using System.Net;
using System.Net.Sockets;

namespace XdsControlPlane.Cidr.Tests;

public class ParsingTests
{
    public static TheoryData<string, string> BadEntries => new()
    {
        { "10.0.0.1", "missing prefix length" },
        { "2001:db8::1", "missing prefix length" },
        { "10.0.0.0/33", "out of range" },
        { "::/129", "out of range" },
        { "10.0.0.0/1000", "out of range" },
        { "10.0.0.0/-1", "not a plain decimal number" },
        { "10.0.0.0/+8", "not a plain decimal number" },
        { "10.0.0.0/a", "not a plain decimal number" },
        { "1.2.3.4/0x8", "not a plain decimal number" },
        { "10.0.0.0/08", "leading zeros" },
        { "10.0.0.0/", "missing prefix length" },
        { "10.0.0.0/8/8", "more than one '/'" },
        { "abc", "not a canonical dotted-quad" },
        { "abc/8", "not a canonical dotted-quad" },
        { "/8", "not a canonical dotted-quad" },
        { "", "empty entry" },
        { "   ", "empty entry" },
        { "10.0.0.1/8", "host bits are set (did you mean 10.0.0.0/8?)" },
        { "2001:db8::1/32", "host bits are set (did you mean 2001:db8::/32?)" },
        { "::1/0", "host bits are set (did you mean ::/0?)" },
        { "fe80::1%eth0/64", "zone ids are not allowed" },
        { "fe80::%2/64", "zone ids are not allowed" },
        { "10.0.0.0 /8", "whitespace" },
        { "10.0.0.0/ 8", "whitespace" },
        { "10. 0.0.0/8", "whitespace" },
        { "10.0.0.0\t/8", "whitespace" },
        { "010.0.0.0/8", "not a canonical dotted-quad" },
        { "10.00.0.0/16", "not a canonical dotted-quad" },
        { "10.1/16", "not a canonical dotted-quad" },
        { "10.0.0/24", "not a canonical dotted-quad" },
        { "10/8", "not a canonical dotted-quad" },
        { "167772160/8", "not a canonical dotted-quad" },
        { "0x0A.0.0.0/8", "not a canonical dotted-quad" },
        { "10.0.0.0.0/8", "not a canonical dotted-quad" },
        { "256.0.0.0/8", "not a canonical dotted-quad" },
        { "1000.0.0.0/8", "not a canonical dotted-quad" },
        { "10.0.0.0./8", "not a canonical dotted-quad" },
        { "[2001:db8::]/32", "not a valid IPv6 address" },
        { "2001:db8:::/32", "not a valid IPv6 address" },
        { "2001:db8::g/32", "not a valid IPv6 address" },
        { "1:2:3:4:5:6:7:8:9/128", "not a valid IPv6 address" },
        { "::ffff:010.0.0.0/104", "not a valid IPv6 address" },
        { "::ffff:10.1/104", "not a valid IPv6 address" },
    };

    [Theory]
    [MemberData(nameof(BadEntries))]
    public void SingleBadEntryIsRejectedWithItsReason(string entry, string reason)
    {
        var e = Assert.Throws<CidrFormatException>(() => CidrRange.Parse(entry));

        Assert.Equal(entry, e.Entry);
        Assert.Equal(-1, e.Index);
        Assert.Contains($"'{entry}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.False(CidrRange.TryParse(entry, out _, out string? error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(BadEntries))]
    public void BadEntryInAListIsReportedWithItsIndex(string entry, string reason)
    {
        string[] list = ["192.168.0.0/16", "2001:db8::/32", entry, "10.0.0.1/8"];

        var e = Assert.Throws<CidrFormatException>(() => CidrSet.Parse(list));

        Assert.Equal(entry, e.Entry);
        Assert.Equal(2, e.Index);
        Assert.StartsWith($"entry 2 '{entry}': ", e.Message, StringComparison.Ordinal);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParseListReportsEveryBadEntry()
    {
        bool ok = CidrSet.TryParse(["10.0.0.1/8", "10.0.0.0/8", "10.1/16", " 2001:db8::/32 "], out var set, out var errors);

        Assert.False(ok);
        Assert.True(set.IsEmpty);
        Assert.Equal([0, 2], errors.Select(e => e.Index));
        Assert.Equal("entry 0 '10.0.0.1/8': host bits are set (did you mean 10.0.0.0/8?)", errors[0].Message);
    }

    [Fact]
    public void NullEntryIsAFormatErrorNotACrash()
    {
        var e = Assert.Throws<CidrFormatException>(() => CidrSet.Parse(["10.0.0.0/8", null!]));

        Assert.Equal(1, e.Index);
        Assert.Equal(string.Empty, e.Entry);
    }

    [Theory]
    [InlineData(" 10.0.0.0/8 ", "10.0.0.0/8", true, 8)]
    [InlineData("\t10.0.0.0/8\n", "10.0.0.0/8", true, 8)]
    [InlineData("0.0.0.0/0", "0.0.0.0/0", true, 0)]
    [InlineData("255.255.255.255/32", "255.255.255.255/32", true, 32)]
    [InlineData("0.0.0.0/32", "0.0.0.0/32", true, 32)]
    [InlineData("::/0", "::/0", false, 0)]
    [InlineData("2001:DB8::/32", "2001:db8::/32", false, 32)]
    [InlineData("2001:0db8:0000:0000:0001:0000:0000:0001/128", "2001:db8::1:0:0:1/128", false, 128)]
    [InlineData("2001:db8:0:1:1:1:1:1/128", "2001:db8:0:1:1:1:1:1/128", false, 128)]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", false, 128)]
    [InlineData("::1.2.3.4/128", "::102:304/128", false, 128)]
    [InlineData("::ffff:10.0.0.0/104", "10.0.0.0/8", true, 8)]
    [InlineData("::FFFF:a00:0/104", "10.0.0.0/8", true, 8)]
    [InlineData("::ffff:0:0/96", "0.0.0.0/0", true, 0)]
    [InlineData("::ffff:1.2.3.4/128", "1.2.3.4/32", true, 32)]
    [InlineData("::/80", "::/80", false, 80)]
    public void ValidEntriesParseToCanonicalForm(string text, string canonical, bool isIPv4, int prefixLength)
    {
        var range = CidrRange.Parse(text);

        Assert.Equal(canonical, range.ToString());
        Assert.Equal(isIPv4, range.IsIPv4);
        Assert.Equal(isIPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6, range.Network.AddressFamily);
        Assert.Equal(prefixLength, range.PrefixLength);
        Assert.Equal(range, CidrRange.Parse(canonical));
        Assert.True(CidrRange.TryParse(text, out var again, out string? error));
        Assert.Null(error);
        Assert.Equal(range, again);
    }

    [Fact]
    public void CanonicalTextRoundTripsForRandomRanges()
    {
        var rng = new Random(7);
        foreach (var r in Gen.MixedList(rng, 5000))
        {
            string text = r.ToString();
            Assert.Equal(r, CidrRange.Parse(text));
            Assert.Equal(text.ToLowerInvariant(), text);
            var viaBcl = IPNetwork.Parse(text);
            Assert.Equal(r.Network, viaBcl.BaseAddress);
            Assert.Equal(r.PrefixLength, viaBcl.PrefixLength);
        }
    }

    [Fact]
    public void CreateRefusesHostBitsAndZones()
    {
        var e = Assert.Throws<ArgumentException>(() => CidrRange.Create(IPAddress.Parse("10.0.0.1"), 8));
        Assert.Contains("10.0.0.0/8", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => CidrRange.Create(IPAddress.Parse("10.0.0.0"), 33));
        Assert.Throws<ArgumentOutOfRangeException>(() => CidrRange.Create(IPAddress.IPv6Any, 129));
        Assert.Throws<ArgumentException>(() => CidrRange.Create(IPAddress.Parse("fe80::%3"), 64));

        Assert.Equal("10.0.0.0/8", CidrRange.Create(IPAddress.Parse("10.0.0.0"), 8).ToString());
        Assert.Equal(CidrRange.Parse("10.0.0.0/8"), CidrRange.Create(IPAddress.Parse("::ffff:10.0.0.0"), 104));
    }

    [Fact]
    public void RangeContainsUsesMaskAndMapping()
    {
        var r = CidrRange.Parse("10.0.0.0/8");

        Assert.True(r.Contains(IPAddress.Parse("10.255.255.255")));
        Assert.True(r.Contains(IPAddress.Parse("::ffff:10.0.0.0")));
        Assert.False(r.Contains(IPAddress.Parse("11.0.0.0")));
        Assert.False(r.Contains(IPAddress.Parse("::a00:0")));
        Assert.True(r.Contains(CidrRange.Parse("10.1.0.0/16")));
        Assert.False(CidrRange.Parse("10.1.0.0/16").Contains(r));
    }

    [Fact]
    public void OrderIsIPv4ThenIPv6ThenAddressThenPrefixLength()
    {
        CidrRange[] expected =
        [
            CidrRange.Parse("0.0.0.0/0"),
            CidrRange.Parse("10.0.0.0/8"),
            CidrRange.Parse("10.0.0.0/16"),
            CidrRange.Parse("10.1.0.0/16"),
            CidrRange.Parse("255.255.255.255/32"),
            CidrRange.Parse("::/0"),
            CidrRange.Parse("::/1"),
            CidrRange.Parse("2001:db8::/32"),
            CidrRange.Parse("2001:db8::/48"),
            CidrRange.Parse("ffff::/16"),
        ];

        var shuffled = expected.OrderBy(r => r.GetHashCode()).Reverse().ToList();
        shuffled.Sort();

        Assert.Equal(expected, shuffled);
        Assert.True(expected[4] < expected[5]);
        Assert.True(expected[2] > expected[1]);
    }
}
