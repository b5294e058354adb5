using XdsControlPlane.Compiler.Rbac;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>A bad update never reaches Envoy: a bad tenant keeps its last good policy, a bad seed keeps everything.</summary>
public sealed class LastGoodTests
{
    private const string Seed = "apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata: {name: s, annotations: {nodeport-proxy.k8s.io/cloud-provider: aws}}\nspec: {}\n";

    private static string Tenant(string id, string blocks) =>
        $"---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata: {{name: {id}}}\nspec:\n  exposeStrategy: Tunneling\n  apiServerAllowedIPRanges: {{cidrBlocks: [{blocks}]}}\n" +
        $"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: apiserver-external\n  namespace: cluster-{id}\n  annotations:\n    nodeport-proxy.k8s.io/expose: SNI\n" +
        $"    nodeport-proxy.k8s.io/port-mapping: '{{\"secure\":\"{id}.example.com\"}}'\nspec:\n  type: NodePort\n  ports: [{{name: secure, port: 443, targetPort: 6443, protocol: TCP, nodePort: 30443}}]\n";

    [Fact]
    public void ABadAllowlistKeepsTheTenantsLastGoodPolicyWhileOthersMoveOn()
    {
        var pipeline = new TestPipeline();
        Assert.True(pipeline.ApplyYaml(Seed + Tenant("a", "\"203.0.113.0/24\"") + Tenant("b", "\"198.51.100.0/24\"")).Applied);
        var good = pipeline.Pipeline.Current!.Snapshot;

        var outcome = pipeline.ApplyYaml(Seed + Tenant("a", "\"203.0.113.0/33\"") + Tenant("b", "\"198.51.100.0/25\""));

        Assert.True(outcome.Applied);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "InvalidCidr" && d.Object == "Cluster/a" && d.Field == "spec.apiServerAllowedIPRanges.cidrBlocks[0]");
        var snapshot = outcome.Current!.Snapshot;
        var a = RbacEvaluator.SniRbac(snapshot, "a.example.com");
        Assert.Equal(RbacEvaluator.SniRbac(good, "a.example.com"), a);
        Assert.True(RbacEvaluator.Allows(a, System.Net.IPAddress.Parse("203.0.113.200")));
        Assert.True(outcome.Current.GetReport("a")!.ServingLastGood);
        var b = RbacEvaluator.SniRbac(snapshot, "b.example.com");
        Assert.False(RbacEvaluator.Allows(b, System.Net.IPAddress.Parse("198.51.100.200")), "b's narrowed list was not applied");
    }

    [Fact]
    public void ANewTenantWithABadListIsNotServedOpen()
    {
        var pipeline = new TestPipeline();
        var outcome = pipeline.ApplyYaml(Seed + Tenant("n", "\"abc\""));
        Assert.True(outcome.Applied);
        var listeners = outcome.Current!.Snapshot.Get(Snapshots.TypeUrls.Listener).Resources;
        Assert.False(listeners.ContainsKey("sni_listener"), "a tenant whose list is unreadable must not be exposed without it");
    }

    [Fact]
    public void ABadSeedKeepsTheWholeLastGoodSnapshot()
    {
        var pipeline = new TestPipeline();
        Assert.True(pipeline.ApplyYaml(Seed + Tenant("a", "\"203.0.113.0/24\"")).Applied);
        var published = pipeline.Published.Count;
        var outcome = pipeline.ApplyYaml(Seed.Replace("cloud-provider: aws", "cloud-provider: nimbus", StringComparison.Ordinal) + Tenant("a", "\"10.0.0.0/8\""));
        Assert.False(outcome.Applied);
        Assert.Equal(published, pipeline.Published.Count);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "UnknownProvider" && d.Object == "Seed/s");
        Assert.False(RbacEvaluator.Allows(RbacEvaluator.SniRbac(pipeline.Pipeline.Current!.Snapshot, "a.example.com"), System.Net.IPAddress.Parse("10.1.1.1")));
    }

    [Fact]
    public void ASnapshotTheCacheRefusesChangesNothing()
    {
        var refuse = false;
        var pipeline = new Pipeline.ConfigPipeline(_ => refuse ? ["refused by the test"] : [], Microsoft.Extensions.Logging.Abstractions.NullLogger<Pipeline.ConfigPipeline>.Instance);
        Assert.True(pipeline.Apply(TestPipeline.ToInput(Sources.Translation.InventoryTranslator.Translate(TestPipeline.Inventory(Seed + Tenant("a", "\"203.0.113.0/24\""))))).Applied);
        var before = pipeline.Current;
        refuse = true;
        var outcome = pipeline.Apply(TestPipeline.ToInput(Sources.Translation.InventoryTranslator.Translate(TestPipeline.Inventory(Seed + Tenant("a", "\"10.0.0.0/8\""))))); 
        Assert.False(outcome.Applied);
        Assert.Same(before, pipeline.Current);
        Assert.Equal(Enforcement.EnforcedDirect, pipeline.Current!.GetReport("a")!.Enforcement);
    }
}
