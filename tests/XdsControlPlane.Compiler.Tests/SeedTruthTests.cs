using System.Net;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// What the Seed and the nodeport-proxy Service say about client addresses, read from the objects a stock KKP seed has:
/// the provider inferred from the datacenters, the Service's externalTrafficPolicy, and a missing Seed never opening anything.
/// </summary>
public sealed class SeedTruthTests
{
    private static string Seed(string datacenters, string annotations = "", string name = "s") =>
        $"apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata:\n  name: {name}\n  namespace: kubermatic\n" +
        (annotations.Length > 0 ? $"  annotations: {{{annotations}}}\n" : "") +
        $"spec:\n  country: DE\n" + (datacenters.Length > 0 ? $"  datacenters:\n{datacenters}" : "");

    private static string Dc(string name, string providerBlock) =>
        $"    {name}:\n      country: DE\n      location: X\n      spec:\n        enforceAuditLogging: false\n" +
        (providerBlock.Length > 0 ? $"        {providerBlock}\n" : "");

    private static string Tenant(string id, string blocks = "\"203.0.113.0/24\"") =>
        $"---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata: {{name: {id}}}\nspec:\n  exposeStrategy: Tunneling\n  apiServerAllowedIPRanges: {{cidrBlocks: [{blocks}]}}\n" +
        $"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: apiserver-external\n  namespace: cluster-{id}\n  annotations:\n    nodeport-proxy.k8s.io/expose: SNI\n" +
        $"    nodeport-proxy.k8s.io/port-mapping: '{{\"secure\":\"{id}.example.com\"}}'\nspec:\n  type: NodePort\n  ports: [{{name: secure, port: 443, targetPort: 6443, protocol: TCP, nodePort: 30443}}]\n";

    private static string NodePortProxy(string? policy, string ns = "kubermatic", string name = "nodeport-proxy") =>
        $"---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  type: LoadBalancer\n" +
        (policy is null ? "" : $"  externalTrafficPolicy: {policy}\n") + "  ports: [{name: secure, port: 6443, protocol: TCP, nodePort: 32000}]\n";

    public static TheoryData<string, string, CloudProvider, bool> Inference => new()
    {
        // datacenters (name: provider block) | annotation | provider | preserved
        { Dc("gcp-a", "gcp: {region: europe-west3}") + Dc("gcp-b", "gcp: {region: us-east1}"), "", CloudProvider.Gcp, true },
        { Dc("aws-a", "aws: {region: eu-central-1}"), "", CloudProvider.Aws, true },
        { Dc("az-a", "azure: {location: westeurope}") + Dc("az-b", "azure: {location: northeurope}"), "", CloudProvider.Azure, true },
        { Dc("hz", "hetzner: {datacenter: hel1}"), "", CloudProvider.Hetzner, false },
        { Dc("os", "openstack: {authURL: 'https://keystone'}"), "", CloudProvider.OpenStack, false },
        // mixed: unknown, which stays not enforceable
        { Dc("aws-a", "aws: {region: eu-central-1}") + Dc("gcp-a", "gcp: {region: europe-west3}"), "", CloudProvider.Unspecified, false },
        // a datacenter without a provider block makes the whole seed unknown
        { Dc("aws-a", "aws: {region: eu-central-1}") + Dc("odd", ""), "", CloudProvider.Unspecified, false },
        // no datacenters at all
        { "", "", CloudProvider.Unspecified, false },
        // the annotation overrides the datacenters, both ways
        { Dc("gcp-a", "gcp: {region: europe-west3}"), "nodeport-proxy.k8s.io/cloud-provider: hetzner", CloudProvider.Hetzner, false },
        { Dc("hz", "hetzner: {datacenter: hel1}"), "nodeport-proxy.k8s.io/cloud-provider: aws", CloudProvider.Aws, true },
    };

    [Theory]
    [MemberData(nameof(Inference))]
    public void TheProviderIsInferredFromTheDatacentersUnlessAnnotated(string datacenters, string annotation, CloudProvider provider, bool preserved)
    {
        var result = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(datacenters, annotation) + Tenant("t")));

        var seed = Assert.IsType<SeedSettings>(result.Seed);
        Assert.Equal(provider, seed.Provider);
        Assert.Equal(preserved, seed.SourceIpPreserved);
        Assert.Contains(annotation.Length > 0 ? "annotation nodeport-proxy.k8s.io/cloud-provider on Seed/s" : "Seed/s", seed.ProviderSource, StringComparison.Ordinal);
        var decision = AllowlistDecision.Decide(result.Tenants.Single(), seed);
        Assert.Equal(preserved ? Enforcement.EnforcedDirect : Enforcement.NotEnforceableOpen, decision.Enforcement);
    }

    [Fact]
    public void AStockGcpSeedEnforcesItsTenantsLists()
    {
        var compiled = TestPipeline.Compile(Seed(Dc("gcp-a", "gcp: {region: europe-west3}")) + Tenant("t"));

        var report = compiled.GetReport("t")!;
        Assert.Equal(Enforcement.EnforcedDirect, report.Enforcement);
        var rbac = RbacEvaluator.SniRbac(compiled.Snapshot, "t.example.com");
        Assert.True(RbacEvaluator.Allows(rbac, IPAddress.Parse("203.0.113.9")));
        Assert.False(RbacEvaluator.Allows(rbac, IPAddress.Parse("198.51.100.9")));
        Assert.Contains("inferred from Seed/s spec.datacenters (all gcp: gcp-a)", compiled.Model.Seed.SourceIpPreservedSource, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Cluster")]
    [InlineData(null)] // absent: Kubernetes defaults to Cluster
    public void ANodePortProxyServiceWithClusterTrafficPolicyLosesClientAddressesEvenOnGcp(string? policy)
    {
        var result = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(Dc("gcp-a", "gcp: {}")) + Tenant("t") + NodePortProxy(policy)));

        var seed = result.Seed!;
        Assert.False(seed.SourceIpPreserved);
        Assert.Equal("kubermatic/nodeport-proxy", seed.NodePortProxyService);
        var warning = Assert.Single(result.Diagnostics, d => d.Code == "SourceIpNotPreserved");
        Assert.Equal("Service/kubermatic/nodeport-proxy", warning.Object);
        Assert.Equal("spec.externalTrafficPolicy", warning.Field);
        Assert.Contains("set externalTrafficPolicy: Local", warning.Message, StringComparison.Ordinal);
        var decision = AllowlistDecision.Decide(result.Tenants.Single(), seed);
        Assert.Equal(Enforcement.NotEnforceableOpen, decision.Enforcement);
        Assert.Contains("externalTrafficPolicy: Local on Service/kubermatic/nodeport-proxy", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ANodePortProxyServiceWithLocalTrafficPolicyKeepsThem_AndOthersAreNotIt()
    {
        var local = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(Dc("gcp-a", "gcp: {}")) + Tenant("t") + NodePortProxy("Local")));
        Assert.True(local.Seed!.SourceIpPreserved);
        Assert.Equal("Local", local.Seed.ExternalTrafficPolicy);
        Assert.DoesNotContain(local.Diagnostics, d => d.Code == "SourceIpNotPreserved");
        Assert.Contains("externalTrafficPolicy: Local keep client addresses", local.Seed.SourceIpPreservedSource, StringComparison.Ordinal);

        // same name elsewhere, or another name: not the nodeport-proxy's Service
        var elsewhere = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(Dc("gcp-a", "gcp: {}")) + Tenant("t") + NodePortProxy("Cluster", ns: "other")
            + NodePortProxy("Cluster", name: "something-else")));
        Assert.True(elsewhere.Seed!.SourceIpPreserved);
        Assert.Null(elsewhere.Seed.NodePortProxyService);

        // named by the options (the --nodeport-proxy-service / --nodeport-proxy-namespace flags)
        var named = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(Dc("gcp-a", "gcp: {}")) + Tenant("t") + NodePortProxy("Cluster", ns: "proxy", name: "npp")),
            new TranslationOptions { NodePortProxyNamespace = "proxy", NodePortProxyServiceName = "npp" });
        Assert.False(named.Seed!.SourceIpPreserved);
    }

    [Fact]
    public void ABadProviderAnnotationNamesTheAnnotationAndTheAcceptedValues()
    {
        var result = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(Dc("gcp-a", "gcp: {}"), "nodeport-proxy.k8s.io/cloud-provider: gce") + Tenant("t")));

        Assert.Null(result.Seed);
        var error = Assert.Single(result.Diagnostics, d => d.Code == "UnknownProvider");
        Assert.Equal($"metadata.annotations[{Annotations.CloudProvider}]", error.Field);
        foreach (var accepted in new[] { "aws", "azure", "gcp", "hetzner", "openstack" })
        {
            Assert.Contains(accepted, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void NoSeedOnAFirstStart_ServesNothing()
    {
        var pipeline = new TestPipeline();

        var outcome = pipeline.ApplyYaml(Tenant("t"));

        Assert.False(outcome.Applied);
        Assert.Null(pipeline.Pipeline.Current);
        Assert.Empty(pipeline.Published);
        var error = Assert.Single(outcome.Diagnostics, d => d.Code == "SeedMissing");
        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASeedThatGoesMissingOrAmbiguousKeepsTheLastGoodSnapshot_NeverOpensIt(bool twoSeeds)
    {
        var pipeline = new TestPipeline();
        var seed = Seed(Dc("aws-a", "aws: {}"));
        Assert.True(pipeline.ApplyYaml(seed + Tenant("t")).Applied);
        var good = pipeline.Pipeline.Current!;

        var input = twoSeeds ? seed + "---\n" + Seed(Dc("aws-a", "aws: {}"), name: "s2") + Tenant("t", "\"198.51.100.0/24\"") : Tenant("t", "\"198.51.100.0/24\"");
        var outcome = pipeline.ApplyYaml(input);

        Assert.False(outcome.Applied);
        Assert.Same(good, pipeline.Pipeline.Current);
        Assert.Contains(outcome.Diagnostics, d => d.Code == (twoSeeds ? "SeedAmbiguous" : "SeedMissing") && d.Severity == DiagnosticSeverity.Error);
        var rbac = RbacEvaluator.SniRbac(pipeline.Pipeline.Current!.Snapshot, "t.example.com");
        Assert.True(RbacEvaluator.Allows(rbac, IPAddress.Parse("203.0.113.9")));
        Assert.False(RbacEvaluator.Allows(rbac, IPAddress.Parse("8.8.8.8")), "the list stays enforced");
    }

    [Fact]
    public void ANamedSeedThatIsMissingIsSeedMissing()
    {
        var result = InventoryTranslator.Translate(TestPipeline.Inventory(Seed(Dc("aws-a", "aws: {}")) + Tenant("t")), new TranslationOptions { SeedName = "other" });

        Assert.Null(result.Seed);
        var error = Assert.Single(result.Diagnostics, d => d.Code == "SeedMissing");
        Assert.Equal("Seed/other", error.Object);
        Assert.Contains("found: s", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANewTenantWithABadListIsReportedNotServed_OnItsCluster()
    {
        var pipeline = new TestPipeline();

        var outcome = pipeline.ApplyYaml(Seed(Dc("aws-a", "aws: {}")) + Tenant("n", "\"abc\""));

        Assert.True(outcome.Applied);
        var notServed = Assert.Single(outcome.Diagnostics, d => d.Code == "TenantNotServed");
        Assert.Equal("n", notServed.TenantId);
        Assert.Equal(DiagnosticSeverity.Warning, notServed.Severity);
    }
}
