using System.Buffers.Binary;
using System.Net;
using XdsControlPlane.Cidr;

namespace XdsControlPlane.Benchmarks.Cidr;

/// <summary>
/// Seeded, allowlist-shaped inputs: IPv4 prefixes /16-/32 anywhere, IPv6 prefixes at the usual
/// assignment boundaries under 2000::/3. Lookups are half inside a listed range and half uniformly
/// random, so both the hit and the miss path are timed and the branch predictor cannot learn the answer.
/// </summary>
internal static class CidrBenchmarkData
{
    private static readonly int[] V6PrefixLengths = [32, 40, 48, 56, 64, 96, 128];

    public static CidrRange[] V4Ranges(int count, int seed = 12345)
    {
        var rng = new Random(seed);
        var ranges = new CidrRange[count];
        for (int i = 0; i < count; i++)
        {
            int p = rng.Next(16, 33);
            uint mask = p == 0 ? 0 : uint.MaxValue << (32 - p);
            ranges[i] = CidrRange.FromIPv4(NextUInt(rng) & mask, p);
        }

        return ranges;
    }

    public static CidrRange[] V6Ranges(int count, int seed = 54321)
    {
        var rng = new Random(seed);
        var ranges = new CidrRange[count];
        for (int i = 0; i < count; i++)
        {
            int p = V6PrefixLengths[rng.Next(V6PrefixLengths.Length)];
            UInt128 value = (NextUInt128(rng) >> 3) | ((UInt128)1 << 125);
            UInt128 mask = UInt128.MaxValue << (128 - p);
            ranges[i] = CidrRange.FromIPv6(value & mask, p);
        }

        return ranges;
    }

    public static IPAddress[] Addresses(CidrRange[] ranges, int count, int seed = 777)
    {
        var rng = new Random(seed);
        var addresses = new IPAddress[count];
        for (int i = 0; i < count; i++)
        {
            var r = ranges[rng.Next(ranges.Length)];
            bool inside = (i & 1) == 0;
            if (r.IsIPv4)
            {
                uint host = r.PrefixLength == 32 ? 0 : NextUInt(rng) & (uint.MaxValue >> r.PrefixLength);
                uint network = BinaryPrimitives.ReadUInt32BigEndian(r.Network.GetAddressBytes());
                addresses[i] = ToAddress(inside ? network | host : NextUInt(rng));
            }
            else
            {
                UInt128 host = r.PrefixLength == 128 ? 0 : NextUInt128(rng) & (UInt128.MaxValue >> r.PrefixLength);
                UInt128 network = BinaryPrimitives.ReadUInt128BigEndian(r.Network.GetAddressBytes());
                addresses[i] = ToAddress(inside ? network | host : NextUInt128(rng));
            }
        }

        return addresses;
    }

    public static uint ToUInt32(IPAddress address) => BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());

    private static IPAddress ToAddress(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    private static IPAddress ToAddress(UInt128 value)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    private static uint NextUInt(Random rng) => (uint)rng.NextInt64(0, 1L << 32);

    private static UInt128 NextUInt128(Random rng) => new((ulong)rng.NextInt64() << 1 ^ (ulong)rng.Next(2), (ulong)rng.NextInt64() << 1 ^ (ulong)rng.Next(2));
}
