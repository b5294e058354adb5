using System.Buffers.Binary;

namespace XdsControlPlane.Cidr.Tests;

public class ContainsPropertyTests
{
    public static TheoryData<string> Families => new() { "v4", "v6", "mixed" };

    [Theory]
    [MemberData(nameof(Families))]
    public void EveryOverloadAgreesWithTheNaiveLoop(string family)
    {
        long checkedProbes = 0;
        for (int seed = 0; seed < 150; seed++)
        {
            var rng = new Random(seed);
            int count = seed % 10 == 0 ? rng.Next(500, 3000) : rng.Next(1, 300);
            var ranges = family switch
            {
                "v4" => Gen.V4List(rng, count),
                "v6" => Gen.V6List(rng, count),
                _ => Gen.MixedList(rng, count),
            };
            var set = CidrSet.Build(ranges);
            var reference = new Reference(ranges);

            foreach (var probe in Gen.Probes(rng, 1000, ranges))
            {
                bool expected = reference.Contains(probe);
                string context = $"seed {seed} ({family}, {count} ranges), address {probe}";
                Assert.True(expected == Gen.Contains(set, probe), $"{context}: uint/UInt128 overload, expected {expected}");
                if ((checkedProbes++ & 3) == 0)
                {
                    var ip = probe.ToIPAddress();
                    Assert.True(expected == set.Contains(ip), $"{context}: IPAddress overload, expected {expected}");
                    Assert.True(expected == set.Contains(ip.GetAddressBytes().AsSpan()), $"{context}: span overload, expected {expected}");
                }
            }
        }

        Assert.True(checkedProbes > 200_000, $"only {checkedProbes} probes were checked");
    }

    [Fact]
    public void SlashZeroAndHostRoutesMatchTheirEdges()
    {
        var set = CidrSet.Parse(["0.0.0.0/0", "2001:db8::1/128", "2001:db8::ffff:ffff/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"]);

        Assert.True(set.Contains(0u));
        Assert.True(set.Contains(uint.MaxValue));
        Assert.True(set.Contains(System.Net.IPAddress.Parse("::ffff:255.255.255.255")));
        Assert.True(set.Contains(System.Net.IPAddress.Parse("2001:db8::1")));
        Assert.False(set.Contains(System.Net.IPAddress.Parse("2001:db8::2")));
        Assert.False(set.Contains(System.Net.IPAddress.Parse("2001:db8::")));
        Assert.True(set.Contains(UInt128.MaxValue));
        Assert.False(set.Contains(UInt128.MaxValue - 1));
        Assert.False(set.Contains(UInt128.Zero));
    }

    [Fact]
    public void IPv6SlashZeroDoesNotMatchMappedAddressesWhichAreIPv4()
    {
        var set = CidrSet.Parse(["::/0"]);

        Assert.True(set.Contains(System.Net.IPAddress.Parse("2001:db8::1")));
        Assert.True(set.Contains(UInt128.Zero));
        Assert.False(set.Contains(System.Net.IPAddress.Parse("::ffff:10.0.0.1")));
        Assert.False(set.Contains(System.Net.IPAddress.Parse("10.0.0.1")));
    }

    [Fact]
    public void MappedAddressesMatchIPv4RangesInEveryForm()
    {
        var set = CidrSet.Parse(["10.0.0.0/8", "::ffff:192.168.0.0/112"]);
        var mapped = System.Net.IPAddress.Parse("::ffff:10.1.2.3");
        Span<byte> bytes = stackalloc byte[16];
        mapped.TryWriteBytes(bytes, out _);

        Assert.True(set.Contains(mapped));
        Assert.True(set.Contains(BinaryPrimitives.ReadUInt128BigEndian(bytes)));
        Assert.True(set.Contains((ReadOnlySpan<byte>)bytes));
        Assert.True(set.Contains(System.Net.IPAddress.Parse("192.168.255.1")));
        Assert.False(set.Contains(System.Net.IPAddress.Parse("::ffff:11.0.0.0")));
        Assert.False(set.Contains(System.Net.IPAddress.Parse("192.169.0.0")));
    }

    [Fact]
    public void EmptySetContainsNothing()
    {
        Assert.True(CidrSet.Empty.IsEmpty);
        Assert.False(CidrSet.Empty.Contains(0u));
        Assert.False(CidrSet.Empty.Contains(UInt128.MaxValue));
        Assert.False(CidrSet.Empty.Contains(System.Net.IPAddress.Loopback));
        Assert.True(CidrSet.Build([]).IsEmpty);
        Assert.Empty(CidrSet.Empty.Normalized);
    }

    [Fact]
    public void SpanOfWrongLengthIsRejected()
    {
        var set = CidrSet.Parse(["10.0.0.0/8"]);

        Assert.Throws<ArgumentException>(() => set.Contains(new byte[5].AsSpan()));
    }

    [Fact]
    public void DefaultRangeIsRefused()
    {
        Assert.Throws<ArgumentException>(() => CidrSet.Build([default]));
        Assert.False(default(CidrRange).Contains(System.Net.IPAddress.Any));
    }
}
