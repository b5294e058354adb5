using k8s.Models;
using Xunit.Abstractions;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>The API-server source reads the nodeport-proxy's own LoadBalancer Service (not exposed, so not otherwise watched).</summary>
public sealed class NodePortProxyServiceTests(ITestOutputHelper output)
{
    private static V1Service NodePortProxy(string policy) => new()
    {
        Metadata = new V1ObjectMeta { Name = "nodeport-proxy", NamespaceProperty = "kubermatic" },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            ExternalTrafficPolicy = policy,
            Ports = [new V1ServicePort { Name = "secure", Port = 6443, Protocol = "TCP", NodePort = 32000 }],
        },
    };

    [Fact]
    public async Task ItsExternalTrafficPolicyReachesTheTranslation_AndFollowsItsChanges()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1", "203.0.113.0/24");
        h.Server.Upsert("services", Objects.UnexposedService("kubermatic", "other")); // same namespace, not it
        h.Server.Upsert("services", NodePortProxy("Cluster"));
        h.Start();

        var first = await h.Sink.WaitForAsync(i => i.Services.Any(s => s.Metadata.Name == "nodeport-proxy"), "the nodeport-proxy Service");
        Assert.DoesNotContain(first.Services, s => s.Metadata.Name == "other");
        var translated = InventoryTranslator.Translate(first, SourceHarness.TestOptions.ToTranslationOptions());
        Assert.False(translated.Seed!.SourceIpPreserved);
        Assert.Contains(translated.Diagnostics, d => d.Code == "SourceIpNotPreserved" && d.Object == "Service/kubermatic/nodeport-proxy");

        h.Server.Upsert("services", NodePortProxy("Local"));
        var fixedUp = await h.Sink.WaitForAsync(i => i.Services.Any(s => s.Spec.ExternalTrafficPolicy == "Local"), "externalTrafficPolicy: Local");
        Assert.True(InventoryTranslator.Translate(fixedUp, SourceHarness.TestOptions.ToTranslationOptions()).Seed!.SourceIpPreserved);
    }
}
