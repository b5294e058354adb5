using XdsControlPlane.Cidr;
using XdsControlPlane.Model;

namespace XdsControlPlane.Benchmarks.Compilation;

/// <summary>
/// A seed shaped like a large KKP installation: 60% Tunneling tenants (API server and konnectivity by SNI
/// and CONNECT, openvpn by CONNECT), 40% NodePort tenants (three node ports), each with an allowlist of
/// <c>rangesPerTenant</c> ranges, a quarter of them IPv6, two or three ready endpoints per port.
/// </summary>
public static class SyntheticSeed
{
    public static SeedModel Build(int tenants, int rangesPerTenant, int seed = 42)
    {
        var random = new Random(seed);
        var settings = new SeedSettings
        {
            Name = "bench",
            Provider = CloudProvider.Aws,
            DefaultAllowedRanges = ValueList.From([CidrRange.Parse("192.0.2.0/28"), CidrRange.Parse("2001:db8:ff00::/48")]),
        };
        var list = new List<Tenant>(tenants);
        for (var i = 0; i < tenants; i++)
        {
            list.Add(Tenant(i, random, rangesPerTenant));
        }
        return new SeedModel(settings, list.OrderBy(t => t.Id, StringComparer.Ordinal).ToValueList());
    }

    public static Tenant Tenant(int i, Random random, int rangesPerTenant)
    {
        var id = $"t{i:D6}";
        var ns = $"cluster-{id}";
        var tunneling = i % 5 < 3;
        var created = new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i);
        ExposedPort Port(string name, int port, int nodePort, string? sni, bool viaTunneling, int ep) => new()
        {
            Name = name,
            Port = port,
            NodePort = nodePort,
            ViaNodePort = !tunneling,
            SniHostname = sni,
            ViaTunneling = viaTunneling,
            Endpoints = Enumerable.Range(0, 2 + i % 2).Select(k => new UpstreamEndpoint($"172.{16 + i % 16}.{i / 256 % 256}.{ep + k}", port)).ToValueList(),
        };
        var services = new List<ExposedService>
        {
            new() { Namespace = ns, Name = "apiserver-external", CreatedAt = created,
                Ports = ValueList.From([Port("secure", 6443, 30000 + i * 3 % 2700, tunneling ? $"{id}.seed.example.com" : null, tunneling, 10)]) },
            new() { Namespace = ns, Name = "konnectivity-server", CreatedAt = created,
                Ports = ValueList.From([Port("secure", 8132, 30001 + i * 3 % 2700, tunneling ? $"konnectivity-server.{id}.seed.example.com" : null, tunneling, 20)]) },
            new() { Namespace = ns, Name = "openvpn-server", CreatedAt = created,
                Ports = ValueList.From([Port("secure", 1194, 30002 + i * 3 % 2700, null, tunneling, 30)]) },
        };
        return new Tenant
        {
            Id = id,
            Strategy = tunneling ? ExposeStrategy.Tunneling : ExposeStrategy.NodePort,
            AllowedRanges = RandomRanges(random, rangesPerTenant),
            Services = services.ToValueList(),
        };
    }

    public static ValueList<CidrRange> RandomRanges(Random random, int count)
    {
        var ranges = new List<CidrRange>(count);
        for (var k = 0; k < count; k++)
        {
            if (k % 4 == 3)
            {
                var prefix = random.Next(40, 65);
                var high = (UInt128)(0x2001_0db8UL << 32 | (ulong)(uint)random.Next()) << 64;
                ranges.Add(CidrRange.FromIPv6(high & (UInt128.MaxValue << (128 - prefix)), prefix));
            }
            else
            {
                var prefix = random.Next(16, 33);
                var address = (uint)random.Next() << 1;
                ranges.Add(CidrRange.FromIPv4(prefix == 0 ? 0 : address & (uint.MaxValue << (32 - prefix)), prefix));
            }
        }
        return ranges.ToValueList();
    }

    /// <summary>The same seed with one tenant's allowlist replaced (the other tenants are the same instances).</summary>
    public static SeedModel WithRanges(SeedModel model, int tenantIndex, IEnumerable<CidrRange> ranges)
    {
        var tenants = model.Tenants.ToArray();
        tenants[tenantIndex] = tenants[tenantIndex] with { AllowedRanges = ranges.ToValueList() };
        return model with { Tenants = tenants.ToValueList() };
    }

    /// <summary>The same seed with one tenant's allowlist replaced by another random one of the same length.</summary>
    public static SeedModel WithOneListChanged(SeedModel model, int tenantIndex, int variant) =>
        WithRanges(model, tenantIndex, RandomRanges(new Random(variant), model.Tenants[tenantIndex].AllowedRanges.Count));
}
