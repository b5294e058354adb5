using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace XdsControlPlane.Cidr.Tests;

/// <summary>An address as the tests see it: family plus host-order value (IPv4 in the low 32 bits).</summary>
internal readonly record struct Addr(bool IsV4, UInt128 Value)
{
    public static Addr V4(uint value) => new(true, value);

    public static Addr V6(UInt128 value) => new(false, value);

    public static Addr Mapped(uint value) => new(false, ((UInt128)0xFFFF << 32) | value);

    public IPAddress ToIPAddress()
    {
        if (IsV4)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, (uint)Value);
            return new IPAddress(b);
        }

        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, Value);
        return new IPAddress(bytes);
    }

    public override string ToString() => ToIPAddress().ToString();
}

/// <summary>
/// The naive model every property is checked against: a plain loop over the ranges with mask math done
/// here from the range's public bytes, independent of the library's interval code.
/// </summary>
internal sealed class Reference
{
    private readonly List<(bool IsV4, UInt128 Network, UInt128 Mask)> _ranges = [];

    public Reference(IEnumerable<CidrRange> ranges)
    {
        foreach (var r in ranges)
        {
            _ranges.Add((r.IsIPv4, ValueOf(r.Network), Mask(r.IsIPv4 ? 32 : 128, r.PrefixLength)));
        }
    }

    public static UInt128 ValueOf(IPAddress address)
    {
        byte[] b = address.GetAddressBytes();
        UInt128 v = 0;
        foreach (byte x in b)
        {
            v = (v << 8) | x;
        }

        return v;
    }

    public static UInt128 Mask(int width, int prefixLength)
    {
        UInt128 mask = 0;
        for (int i = 0; i < prefixLength; i++)
        {
            mask |= UInt128.One << (width - 1 - i);
        }

        return mask;
    }

    public static bool IsMapped(UInt128 v) => (v >> 32) == 0xFFFF;

    public bool Contains(Addr a)
    {
        bool v4 = a.IsV4 || IsMapped(a.Value);
        UInt128 value = a.IsV4 ? a.Value : (v4 ? a.Value & uint.MaxValue : a.Value);
        foreach (var (isV4, network, mask) in _ranges)
        {
            if (isV4 == v4 && (value & mask) == network)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Original ranges containing <paramref name="a"/>, distinct, longest prefix first.</summary>
    public static List<CidrRange> Matching(IEnumerable<CidrRange> ranges, Addr a)
    {
        bool v4 = a.IsV4 || IsMapped(a.Value);
        UInt128 value = v4 ? a.Value & uint.MaxValue : a.Value;
        return ranges
            .Where(r => r.IsIPv4 == v4 && (value & Mask(v4 ? 32 : 128, r.PrefixLength)) == ValueOf(r.Network))
            .Distinct()
            .OrderByDescending(r => r.PrefixLength)
            .ToList();
    }
}

internal static class Gen
{
    public static uint NextUInt(Random rng) => (uint)rng.NextInt64(0, 1L << 32);

    public static UInt128 NextUInt128(Random rng) => new((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63), (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63));

    public static CidrRange V4(uint any, int prefixLength) =>
        CidrRange.FromIPv4(any & (uint)Reference.Mask(32, prefixLength), prefixLength);

    public static CidrRange V6(UInt128 any, int prefixLength) =>
        CidrRange.FromIPv6(any & Reference.Mask(128, prefixLength), prefixLength);

    /// <summary>
    /// A list built to exercise merging: ranges clustered in a small region so they nest, overlap and
    /// touch, explicit sibling pairs and splits, duplicates, and now and then a /0 or a host route.
    /// </summary>
    public static List<CidrRange> V4List(Random rng, int count)
    {
        var list = new List<CidrRange>(count);
        int regionPrefix = rng.Next(0, 24);
        uint region = NextUInt(rng) & (uint)Reference.Mask(32, regionPrefix);
        while (list.Count < count)
        {
            int roll = rng.Next(100);
            if (roll < 1)
            {
                list.Add(V4(0, 0));
            }
            else if (roll < 15 && list.Count > 0)
            {
                var existing = list[rng.Next(list.Count)];
                uint net = (uint)Reference.ValueOf(existing.Network);
                int p = existing.PrefixLength;
                if (p > 0 && rng.Next(2) == 0)
                {
                    list.Add(CidrRange.FromIPv4(net ^ (1u << (32 - p)), p));
                }
                else if (p < 32)
                {
                    list.Add(CidrRange.FromIPv4(net, p + 1));
                    list.Add(CidrRange.FromIPv4(net | (1u << (31 - p)), p + 1));
                }
                else
                {
                    list.Add(existing);
                }
            }
            else
            {
                int p = rng.Next(Math.Max(regionPrefix, 1), 33);
                uint inRegion = (region & (uint)Reference.Mask(32, regionPrefix)) | (NextUInt(rng) & ~(uint)Reference.Mask(32, regionPrefix));
                list.Add(V4(roll < 90 ? inRegion : NextUInt(rng), p));
            }
        }

        return list;
    }

    public static List<CidrRange> V6List(Random rng, int count)
    {
        var list = new List<CidrRange>(count);
        int regionPrefix = rng.Next(16, 100);
        UInt128 region = NextUInt128(rng) & Reference.Mask(128, regionPrefix);
        while (list.Count < count)
        {
            int roll = rng.Next(100);
            if (roll < 1)
            {
                list.Add(V6(0, 0));
            }
            else if (roll < 6)
            {
                // Written as IPv4-mapped IPv6: must behave as the IPv4 range.
                int p = rng.Next(0, 33);
                list.Add(CidrRange.FromIPv6(((UInt128)0xFFFF << 32) | (NextUInt(rng) & (uint)Reference.Mask(32, p)), 96 + p));
            }
            else if (roll < 20 && list.Count > 0)
            {
                var existing = list[rng.Next(list.Count)];
                if (existing.IsIPv4)
                {
                    continue;
                }

                UInt128 net = Reference.ValueOf(existing.Network);
                int p = existing.PrefixLength;
                if (p > 0 && rng.Next(2) == 0)
                {
                    list.Add(CidrRange.FromIPv6(net ^ (UInt128.One << (128 - p)), p));
                }
                else if (p < 128)
                {
                    list.Add(CidrRange.FromIPv6(net, p + 1));
                    list.Add(CidrRange.FromIPv6(net | (UInt128.One << (127 - p)), p + 1));
                }
            }
            else
            {
                int p = rng.Next(Math.Max(regionPrefix, 1), 129);
                UInt128 inRegion = region | (NextUInt128(rng) & ~Reference.Mask(128, regionPrefix));
                list.Add(V6(roll < 90 ? inRegion : NextUInt128(rng), p));
            }
        }

        return list;
    }

    public static List<CidrRange> MixedList(Random rng, int count) =>
        [.. V4List(rng, count / 2), .. V6List(rng, count - (count / 2))];

    /// <summary>
    /// Coverage of any list changes only at a range's first address or just after its last, so probing
    /// first-1, first, last and last+1 of every range of every list involved checks every constant piece:
    /// agreement on these points is agreement everywhere. Random points and mapped forms are added on top.
    /// </summary>
    public static List<Addr> Probes(Random rng, int randomCount, params IEnumerable<CidrRange>[] lists)
    {
        var probes = new List<Addr>();
        foreach (var list in lists)
        {
            foreach (var r in list)
            {
                UInt128 first = Reference.ValueOf(r.Network);
                UInt128 max = r.IsIPv4 ? uint.MaxValue : UInt128.MaxValue;
                UInt128 last = first | (~Reference.Mask(r.IsIPv4 ? 32 : 128, r.PrefixLength) & max);
                foreach (var v in new[] { first, last, first - 1, last + 1 })
                {
                    // Wrapped neighbours of 0 and the top address are still valid probes for IPv6; IPv4 ones fall outside.
                    if (v > max)
                    {
                        continue;
                    }

                    probes.Add(r.IsIPv4 ? Addr.V4((uint)v) : Addr.V6(v));
                    if (r.IsIPv4)
                    {
                        probes.Add(Addr.Mapped((uint)v));
                    }
                }

                UInt128 span = last - first;
                UInt128 inside = span == UInt128.MaxValue ? NextUInt128(rng) : first + (NextUInt128(rng) % (span + 1));
                probes.Add(r.IsIPv4 ? Addr.V4((uint)inside) : Addr.V6(inside));
            }
        }

        for (int i = 0; i < randomCount; i++)
        {
            probes.Add(rng.Next(3) switch
            {
                0 => Addr.V4(NextUInt(rng)),
                1 => Addr.Mapped(NextUInt(rng)),
                _ => Addr.V6(NextUInt128(rng)),
            });
        }

        probes.Add(Addr.V4(0));
        probes.Add(Addr.V4(uint.MaxValue));
        probes.Add(Addr.V6(0));
        probes.Add(Addr.V6(UInt128.MaxValue));
        return probes;
    }

    public static bool Contains(CidrSet set, Addr a) => a.IsV4 ? set.Contains((uint)a.Value) : set.Contains(a.Value);

    public static AddressFamily FamilyOf(CidrRange r) => r.IsIPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
}
