using System.Net;
using System.Text;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// With PROXY protocol, a connection from a trusted load balancer address is judged by its PROXY header's
/// address alone, any other connection by its own address, even when the tenant's list covers the load
/// balancer (10.0.0.0/8 with the load balancer in 10.20.0.0/16). Checked through the independent evaluator on
/// every path (SNI chain, NodePort listener, tunneling route), IPv4 and IPv6, rules and matcher form, inline and
/// ECDS delivery.
/// </summary>
public sealed class ProxyProtocolRelayTests
{
    private const string Wide = "wide";
    private const string Narrow = "narrow";

    /// <summary>One family's addresses: the load balancer, a relayed client in the list, one outside it, an in-seed (non-LB) client in the list.</summary>
    public sealed record Family(string Name, IPAddress LoadBalancer, IPAddress Allowed, IPAddress Denied, IPAddress InSeed);

    private static readonly Family V4 = new("IPv4", IPAddress.Parse("10.20.0.5"), IPAddress.Parse("198.51.100.7"),
        IPAddress.Parse("11.0.0.1"), IPAddress.Parse("10.1.2.3"));

    private static readonly Family V6 = new("IPv6", IPAddress.Parse("fd00:20::5"), IPAddress.Parse("2001:db8:1::7"),
        IPAddress.Parse("2001:db8:dead::1"), IPAddress.Parse("fd00:1::3"));

    /// <summary>Every path and family, in the principals form and the matcher form (> 64 ranges), delivered by ECDS and inline.</summary>
    public static TheoryData<string, string, bool, bool> Cases()
    {
        var data = new TheoryData<string, string, bool, bool>();
        foreach (var path in Paths)
        {
            foreach (var family in new[] { V4, V6 })
            {
                foreach (var matcherForm in new[] { false, true })
                {
                    foreach (var inline in new[] { false, true })
                    {
                        data.Add(path.Name, family.Name, matcherForm, inline);
                    }
                }
            }
        }
        return data;
    }

    private delegate bool Path(Snapshot snapshot, string tenant, IPAddress peer, IPAddress? header);

    private static readonly (string Name, Path Allows)[] Paths =
    [
        ("SNI", (s, t, p, h) => RbacEvaluator.SniAllows(s, $"{t}.seed.example.com", p, h)),
        ("NodePort", (s, t, p, h) => RbacEvaluator.NodePortAllows(s, $"cluster-{t}/apiserver-external-secure", p, h)),
        ("tunneling", (s, t, p, h) => RbacEvaluator.TunnelingAllows(s, $"apiserver-external.cluster-{t}.svc.cluster.local:443", p, h)),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ARelayedConnectionIsJudgedByItsHeaderAloneEvenWhenTheListCoversTheLoadBalancer(string path, string familyName, bool matcherForm, bool inline)
    {
        var snapshot = TestPipeline.Compile(Yaml(matcherForm, inline)).Snapshot;
        Assert.Equal(matcherForm, RbacEvaluator.SniRbac(snapshot, $"{Wide}.seed.example.com")!.Matcher is not null);
        var family = familyName == V4.Name ? V4 : V6;
        var allows = Paths.Single(p => p.Name == path).Allows;
        var where = $"{path} {family.Name} ({(matcherForm ? "matcher" : "rules")}, {(inline ? "inline" : "ECDS")})";
        Assert.True(allows(snapshot, Wide, family.LoadBalancer, family.Allowed), $"{where}: a relayed client in the list was denied");
        Assert.False(allows(snapshot, Wide, family.LoadBalancer, family.Denied),
            $"{where}: a relayed client outside the list was admitted because the list covers the load balancer");
        // Without a header, the load balancer's own connection (its health check) is judged by its own address.
        Assert.True(allows(snapshot, Wide, family.LoadBalancer, null), $"{where}: a header-less connection from the load balancer, inside the list");
        Assert.False(allows(snapshot, Narrow, family.LoadBalancer, null), $"{where}: a header-less connection from the load balancer, outside the list");
        // A peer that is not the load balancer is judged by its own address, whatever header it sends.
        Assert.False(allows(snapshot, Wide, family.Denied, family.Allowed), $"{where}: a forged header from a non-LB peer was believed");
        Assert.True(allows(snapshot, Wide, family.InSeed, family.Denied), $"{where}: a non-LB peer in the list was judged by its header");
        Assert.True(allows(snapshot, Wide, family.InSeed, null), $"{where}: an in-seed client in the list was denied");
        Assert.False(allows(snapshot, Wide, family.Denied, null), $"{where}: a client outside the list was admitted");
        // The tenant whose list does not cover the load balancer: the same verdicts for relayed clients.
        Assert.True(allows(snapshot, Narrow, family.LoadBalancer, family.Allowed), $"{where}: narrow tenant, relayed client in the list");
        Assert.False(allows(snapshot, Narrow, family.LoadBalancer, family.Denied), $"{where}: narrow tenant, relayed client outside the list");
    }

    [Fact]
    public void AListOverlappingTheLoadBalancerRangesIsReported()
    {
        // 10.0.0.0/8 holds the trusted 10.20.0.0/16 without starting inside it: a check of the range's own network
        // address alone misses it.
        var outcome = new TestPipeline().ApplyYaml(Yaml(matcherForm: false, inline: false));
        Assert.True(outcome.Applied);
        var reported = outcome.Diagnostics.Where(d => d.Code == "AllowlistContainsLoadBalancer").ToList();
        Assert.Equal([$"Cluster/{Wide}"], reported.Select(d => d.Object));
        Assert.Contains("judged by their PROXY header alone", reported.Single().Message, StringComparison.Ordinal);
    }

    private static string Yaml(bool matcherForm, bool inline)
    {
        var yaml = new StringBuilder();
        yaml.Append("apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata:\n  name: s\n  annotations:\n");
        yaml.Append("    nodeport-proxy.k8s.io/cloud-provider: hetzner\n    nodeport-proxy.k8s.io/proxy-protocol: 'true'\n");
        yaml.Append("    nodeport-proxy.k8s.io/proxy-protocol-trusted-ranges: '10.20.0.0/16, fd00:20::/32'\n");
        if (inline)
        {
            yaml.Append("    nodeport-proxy.k8s.io/rbac-delivery: inline\n");
        }
        yaml.Append("spec: {}\n");
        // 70 disjoint /24s push the effective list past the trie threshold (64).
        var filler = matcherForm ? Enumerable.Range(0, 70).Select(i => $"100.64.{2 * i}.0/24").ToList() : [];
        Tenant(yaml, Wide, ["10.0.0.0/8", "fd00::/8", "198.51.100.0/24", "2001:db8:1::/48", .. filler], 30443);
        Tenant(yaml, Narrow, ["198.51.100.0/24", "2001:db8:1::/48", .. filler], 30444);
        return yaml.ToString();
    }

    private static void Tenant(StringBuilder yaml, string id, IEnumerable<string> ranges, int nodePort)
    {
        yaml.Append($"---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata: {{name: {id}}}\nspec:\n  exposeStrategy: Tunneling\n");
        yaml.Append("  apiServerAllowedIPRanges:\n    cidrBlocks: [").Append(string.Join(", ", ranges.Select(r => $"\"{r}\""))).Append("]\n");
        yaml.Append($"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: apiserver-external\n  namespace: cluster-{id}\n  annotations:\n");
        yaml.Append($"    nodeport-proxy.k8s.io/expose: 'NodePort,SNI,Tunneling'\n    nodeport-proxy.k8s.io/port-mapping: '{{\"secure\":\"{id}.seed.example.com\"}}'\n");
        yaml.Append($"spec:\n  type: NodePort\n  ports: [{{name: secure, port: 443, targetPort: 6443, protocol: TCP, nodePort: {nodePort}}}]\n");
    }
}
