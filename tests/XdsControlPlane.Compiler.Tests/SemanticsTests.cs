using System.Net;
using System.Text;
using XdsControlPlane.Compiler.Rbac;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// For generated inputs, an address is allowed by the compiled RBAC exactly when the tenant's raw list
/// (plus the seed's) contains it, checked by an independent evaluator and a plain loop over the raw list.
/// </summary>
public sealed class SemanticsTests
{
    private static readonly string[] SeedDefaults = ["192.0.2.0/28", "2001:db8:ff00::/48"];

    [Theory]
    [InlineData(1, 8, false)]
    [InlineData(2, 40, false)]
    [InlineData(3, 200, false)] // above the trie threshold: the matcher form
    [InlineData(4, 12, true)]   // PROXY protocol
    [InlineData(5, 150, true)]  // PROXY protocol, matcher form
    public void CompiledRbacAllowsExactlyTheRawList(int seed, int rangesPerTenant, bool proxyProtocol)
    {
        var random = new Random(seed);
        // With PROXY protocol, every other tenant's list covers the load balancer (10.0.0.10): its relayed clients
        // must still be judged by their PROXY header alone.
        var tenants = Enumerable.Range(0, 6).Select(i => (Id: $"t{seed}x{i}",
            Ranges: proxyProtocol && i % 2 == 0 ? [.. RandomRanges(random, rangesPerTenant - 1), "10.0.0.0/8"] : RandomRanges(random, rangesPerTenant))).ToList();
        var snapshot = TestPipeline.Compile(BuildYaml(tenants, proxyProtocol)).Snapshot;
        var loadBalancer = IPAddress.Parse("10.0.0.10");
        var forger = IPAddress.Parse("100.100.100.100");
        foreach (var (id, ranges) in tenants)
        {
            var host = $"{id}.seed.example.com";
            var rbac = RbacEvaluator.SniRbac(snapshot, host);
            Assert.NotNull(rbac);
            Assert.Equal(ranges.Count + SeedDefaults.Length > AllowlistDecision.TrieThreshold, rbac.Matcher is not null || rbac.Rules is null);
            var raw = ranges.Concat(SeedDefaults).Select(IPNetwork.Parse).ToList();
            foreach (var address in SampleAddresses(random, raw, 400))
            {
                var expected = raw.Any(n => n.Contains(address));
                if (proxyProtocol)
                {
                    // Through the load balancer: the PROXY header's address decides.
                    Assert.True(expected == RbacEvaluator.SniAllows(snapshot, host, loadBalancer, address), $"seed {seed} tenant {id} via LB {address}");
                    // Directly, forging a PROXY header: only the real peer address counts.
                    Assert.False(RbacEvaluator.SniAllows(snapshot, host, forger, address), $"seed {seed}: a forged PROXY header from {forger} claiming {address} was allowed");
                    // In-seed client without a header: remote == direct.
                    Assert.True(expected == RbacEvaluator.SniAllows(snapshot, host, address), $"seed {seed} tenant {id} direct {address}");
                }
                else
                {
                    Assert.True(expected == RbacEvaluator.SniAllows(snapshot, host, address), $"seed {seed} tenant {id} address {address} expected {expected}");
                }
            }
        }
    }

    private static List<string> RandomRanges(Random random, int count)
    {
        var result = new List<string>();
        while (result.Count < count)
        {
            if (random.Next(4) == 0)
            {
                var prefix = random.Next(32, 129);
                var bytes = new byte[16];
                random.NextBytes(bytes);
                bytes[0] = 0x20;
                bytes[1] = 0x01;
                result.Add(new IPNetwork(Mask(new IPAddress(bytes), prefix), prefix).ToString());
            }
            else
            {
                var prefix = random.Next(8, 33);
                var address = new IPAddress(BitConverter.GetBytes(random.Next()));
                var range = new IPNetwork(Mask(address, prefix), prefix);
                if (range.Contains(IPAddress.Parse("100.100.100.100")))
                {
                    continue; // keep the forger outside every list
                }
                result.Add(range.ToString());
            }
        }
        return result;
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var bits = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - bits));
        }
        return new IPAddress(bytes);
    }

    /// <summary>Range edges (first, last, just outside), mapped IPv4 forms and random addresses.</summary>
    private static IEnumerable<IPAddress> SampleAddresses(Random random, List<IPNetwork> ranges, int randomCount)
    {
        foreach (var range in ranges.Take(30))
        {
            var first = range.BaseAddress.GetAddressBytes();
            yield return new IPAddress(first);
            var last = (byte[])first.Clone();
            var hostBits = first.Length * 8 - range.PrefixLength;
            for (var bit = 0; bit < hostBits; bit++)
            {
                last[last.Length - 1 - bit / 8] |= (byte)(1 << (bit % 8));
            }
            yield return new IPAddress(last);
            yield return Step(first, -1);
            yield return Step(last, +1);
            if (first.Length == 4)
            {
                yield return new IPAddress(first).MapToIPv6();
            }
        }
        for (var i = 0; i < randomCount; i++)
        {
            var bytes = new byte[random.Next(2) == 0 ? 4 : 16];
            random.NextBytes(bytes);
            if (bytes.Length == 16)
            {
                bytes[0] = 0x20;
                bytes[1] = 0x01;
            }
            yield return new IPAddress(bytes);
        }
    }

    private static IPAddress Step(byte[] bytes, int delta)
    {
        var copy = (byte[])bytes.Clone();
        for (var i = copy.Length - 1; i >= 0; i--)
        {
            var value = copy[i] + delta;
            copy[i] = (byte)value;
            if (value is >= 0 and <= 255)
            {
                break;
            }
        }
        return new IPAddress(copy);
    }

    private static string BuildYaml(List<(string Id, List<string> Ranges)> tenants, bool proxyProtocol)
    {
        var yaml = new StringBuilder();
        yaml.Append("apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata:\n  name: s\n  annotations:\n");
        yaml.Append(proxyProtocol
            ? "    nodeport-proxy.k8s.io/cloud-provider: hetzner\n    nodeport-proxy.k8s.io/proxy-protocol: 'true'\n    nodeport-proxy.k8s.io/proxy-protocol-trusted-ranges: 10.0.0.10/32\n"
            : "    nodeport-proxy.k8s.io/cloud-provider: aws\n");
        yaml.Append("spec:\n  defaultAPIServerAllowedIPRanges: [").Append(string.Join(", ", SeedDefaults.Select(d => $"\"{d}\""))).Append("]\n");
        foreach (var (id, ranges) in tenants)
        {
            yaml.Append($"---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata: {{name: {id}}}\nspec:\n  exposeStrategy: Tunneling\n  apiServerAllowedIPRanges:\n    cidrBlocks: [");
            yaml.Append(string.Join(", ", ranges.Select(r => $"\"{r}\""))).Append("]\n");
            yaml.Append($"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: apiserver-external\n  namespace: cluster-{id}\n  annotations:\n");
            yaml.Append($"    nodeport-proxy.k8s.io/expose: SNI\n    nodeport-proxy.k8s.io/port-mapping: '{{\"secure\":\"{id}.seed.example.com\"}}'\n");
            yaml.Append("spec:\n  type: NodePort\n  ports: [{name: secure, port: 443, targetPort: 6443, protocol: TCP, nodePort: 30443}]\n");
        }
        return yaml.ToString();
    }
}
