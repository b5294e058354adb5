using System.Net;
using Envoy.Config.Endpoint.V3;
using Envoy.Config.Listener.V3;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// No input stops the process or reaches another tenant: colliding names, shared node ports, wildcard hostnames,
/// namespaces outside <c>cluster-&lt;id&gt;</c>, bad endpoint addresses, a missing Cluster, a compile that throws.
/// </summary>
public sealed class InputValidationTests
{
    private const string Seed = "apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata: {name: s, annotations: {nodeport-proxy.k8s.io/cloud-provider: aws}}\nspec: {}\n";

    private static string Cluster(string id, string blocks = "\"203.0.113.0/24\"", string strategy = "NodePort") =>
        $"---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata: {{name: {id}}}\nspec:\n  exposeStrategy: {strategy}\n  apiServerAllowedIPRanges: {{cidrBlocks: [{blocks}]}}\n";

    private static string NodePortService(string ns, string name, string port, int nodePort, string created) =>
        $"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\n  creationTimestamp: \"{created}\"\n" +
        $"  annotations: {{nodeport-proxy.k8s.io/expose: NodePort}}\nspec:\n  type: NodePort\n  ports: [{{name: {port}, port: 443, protocol: TCP, nodePort: {nodePort}}}]\n";

    private static string SniService(string ns, string name, string hostname) =>
        $"---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n    nodeport-proxy.k8s.io/expose: SNI\n" +
        $"    nodeport-proxy.k8s.io/port-mapping: '{{\"secure\":\"{hostname}\"}}'\nspec:\n  type: ClusterIP\n  ports: [{{name: secure, port: 443, protocol: TCP}}]\n";

    private static IReadOnlyDictionary<string, uint> ListenerPorts(Snapshot snapshot) =>
        snapshot.Get(TypeUrls.Listener).Resources.ToDictionary(r => r.Key, r => ((Listener)r.Value.Message).Address.SocketAddress.PortValue);

    private static void AssertSameSnapshot(Snapshot expected, Snapshot actual)
    {
        Assert.Equal(expected.Version, actual.Version);
        foreach (var typeUrl in TypeUrls.PushOrder)
        {
            Assert.Equal(expected.Get(typeUrl).Resources.Keys, actual.Get(typeUrl).Resources.Keys);
        }
    }

    // Service b port c-x and Service b-c port x are both envoy-manager's "cluster-x/b-c-x".
    private static string Colliding(string createdB, string createdBc) =>
        NodePortService("cluster-x", "b", "c-x", 30001, createdB) + NodePortService("cluster-x", "b-c", "x", 30002, createdBc);

    [Fact]
    public void CollidingResourceNames_TheOlderServiceKeepsTheName_InTheFullCompile()
    {
        var outcome = new TestPipeline().ApplyYaml(Seed + Cluster("x") + Colliding("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"));

        Assert.True(outcome.Applied, outcome.RejectedBecause);
        var ports = ListenerPorts(outcome.Current!.Snapshot);
        Assert.Equal(30001u, ports["cluster-x/b-c-x"]); // Service b is older
        Assert.DoesNotContain(30002u, ports.Values);
        var conflict = Assert.Single(outcome.Diagnostics, d => d.Code == "ResourceNameConflict");
        Assert.Equal("Service/cluster-x/b-c", conflict.Object);
        Assert.Equal("spec.ports[0].name", conflict.Field);
        Assert.Contains("cluster-x/b-c-x", conflict.Message);
        Assert.Contains("older Service cluster-x/b", conflict.Message);
        Assert.Equal("x", conflict.TenantId);
    }

    [Fact]
    public void CollidingResourceNames_TheIncrementalPathAgreesWithAFreshFullCompile()
    {
        var pipeline = new TestPipeline();
        // The newer Service first, alone: it holds the name.
        Assert.True(pipeline.ApplyYaml(Seed + Cluster("x") + NodePortService("cluster-x", "b-c", "x", 30002, "2024-06-01T00:00:00Z")).Applied);
        Assert.Equal(30002u, ListenerPorts(pipeline.Pipeline.Current!.Snapshot)["cluster-x/b-c-x"]);

        // The older one appears: it takes the name, in the incremental compile as in a full one.
        var yaml = Seed + Cluster("x") + Colliding("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z");
        var outcome = pipeline.ApplyYaml(yaml);
        Assert.True(outcome.Applied, outcome.RejectedBecause);
        Assert.Equal(30001u, ListenerPorts(outcome.Current!.Snapshot)["cluster-x/b-c-x"]);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "ResourceNameConflict" && d.Object == "Service/cluster-x/b-c");
        AssertSameSnapshot(TestPipeline.Compile(yaml).Snapshot, outcome.Current.Snapshot);
    }

    [Fact]
    public void DuplicateNodePorts_TheOlderServiceKeepsThePort_FullAndIncremental()
    {
        var older = NodePortService("cluster-a", "apiserver-external", "secure", 31000, "2024-01-01T00:00:00Z");
        var newer = NodePortService("cluster-b", "apiserver-external", "secure", 31000, "2024-06-01T00:00:00Z");
        var yaml = Seed + Cluster("a") + Cluster("b") + older + newer;

        var full = new TestPipeline().ApplyYaml(yaml);
        Assert.True(full.Applied, full.RejectedBecause);
        var ports = ListenerPorts(full.Current!.Snapshot);
        Assert.Equal(31000u, ports["cluster-a/apiserver-external-secure"]);
        Assert.False(ports.ContainsKey("cluster-b/apiserver-external-secure"));
        var conflict = Assert.Single(full.Diagnostics, d => d.Code == "NodePortConflict");
        Assert.Equal("Service/cluster-b/apiserver-external", conflict.Object);
        Assert.Equal("spec.ports[name='secure'].nodePort", conflict.Field);
        Assert.Contains("older Service cluster-a/apiserver-external", conflict.Message);
        Assert.Equal([31000], full.Current.GetReport("a")!.NodePorts);
        Assert.Empty(full.Current.GetReport("b")!.NodePorts);

        // Incrementally: b first holds the port, then the older a arrives and takes it; then a goes and b has it back.
        var pipeline = new TestPipeline();
        Assert.True(pipeline.ApplyYaml(Seed + Cluster("a") + Cluster("b") + newer).Applied);
        Assert.Equal(31000u, ListenerPorts(pipeline.Pipeline.Current!.Snapshot)["cluster-b/apiserver-external-secure"]);
        var step = pipeline.ApplyYaml(yaml);
        Assert.True(step.Applied, step.RejectedBecause);
        AssertSameSnapshot(full.Current.Snapshot, step.Current!.Snapshot);
        Assert.Contains(step.Diagnostics, d => d.Code == "NodePortConflict" && d.Object == "Service/cluster-b/apiserver-external");
        var back = pipeline.ApplyYaml(Seed + Cluster("a") + Cluster("b") + newer);
        Assert.Equal(31000u, ListenerPorts(back.Current!.Snapshot)["cluster-b/apiserver-external-secure"]);
        Assert.DoesNotContain(back.Diagnostics, d => d.Code == "NodePortConflict");
    }

    [Theory]
    [InlineData(6443)] // SNI listener
    [InlineData(8088)] // tunneling listener
    [InlineData(8002)] // stats listener
    [InlineData(9001)] // Envoy's admin
    public void ANodePortOnTheProxysOwnPortsIsNotServed(int nodePort)
    {
        var outcome = new TestPipeline().ApplyYaml(Seed + Cluster("a") + NodePortService("cluster-a", "apiserver-external", "secure", nodePort, "2024-01-01T00:00:00Z"));

        Assert.True(outcome.Applied, outcome.RejectedBecause);
        Assert.DoesNotContain(ListenerPorts(outcome.Current!.Snapshot), l => l.Key.StartsWith("cluster-a/", StringComparison.Ordinal));
        var reserved = Assert.Single(outcome.Diagnostics, d => d.Code == "NodePortReserved");
        Assert.Equal("Service/cluster-a/apiserver-external", reserved.Object);
        Assert.Contains(nodePort.ToString(System.Globalization.CultureInfo.InvariantCulture), reserved.Message);
    }

    [Fact]
    public void AWildcardHostnameIsRefused()
    {
        var pipeline = new TestPipeline();
        var outcome = pipeline.ApplyYaml(Seed + Cluster("a", strategy: "Tunneling") + Cluster("b", strategy: "Tunneling")
            + SniService("cluster-a", "apiserver-external", "*.example.com") + SniService("cluster-b", "apiserver-external", "b.example.com"));

        Assert.True(outcome.Applied, outcome.RejectedBecause);
        var refused = Assert.Single(outcome.Diagnostics, d => d.Code == "WildcardSniHostname");
        Assert.Equal("Service/cluster-a/apiserver-external", refused.Object);
        Assert.Equal("metadata.annotations[nodeport-proxy.k8s.io/port-mapping]", refused.Field);
        var chains = ((Listener)outcome.Current!.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener].Message).FilterChains;
        Assert.Equal(["b.example.com"], chains.SelectMany(c => c.FilterChainMatch.ServerNames));
        Assert.Null(outcome.Current.GetReport("a")); // a new tenant with refused input is not served
    }

    [Fact]
    public void OnlyClusterNamespacesAreTenants()
    {
        // Namespace "x" once merged with cluster-x (both were tenant "x") and was served under x's list or open.
        var outcome = new TestPipeline().ApplyYaml(Seed + Cluster("x", strategy: "Tunneling")
            + SniService("cluster-x", "apiserver-external", "x.example.com") + SniService("x", "apiserver-external", "intruder.example.com")
            + SniService("kube-system", "dns", "dns.example.com"));

        Assert.True(outcome.Applied, outcome.RejectedBecause);
        var chains = ((Listener)outcome.Current!.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener].Message).FilterChains;
        Assert.Equal(["x.example.com"], chains.SelectMany(c => c.FilterChainMatch.ServerNames));
        var outside = outcome.Diagnostics.Where(d => d.Code == "NotATenantNamespace").ToList();
        Assert.Equal(["Service/kube-system/dns", "Service/x/apiserver-external"], outside.Select(d => d.Object).Order(StringComparer.Ordinal));
        Assert.All(outside, d => Assert.Equal("metadata.namespace", d.Field));
        Assert.All(outside, d => Assert.Contains("cluster-<id>", d.Message));
        Assert.Equal(["x"], outcome.Current.Model.Tenants.Select(t => t.Id));
    }

    [Fact]
    public void EndpointAddressesAreParsedAndOfTheSlicesFamily()
    {
        const string service = "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: cluster-e\n  annotations: {nodeport-proxy.k8s.io/expose: NodePort}\n" +
            "spec:\n  type: NodePort\n  ports: [{name: secure, port: 443, protocol: TCP, nodePort: 31001}]\n";
        static string Slice(string name, string type, string addresses) =>
            $"---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}\n  namespace: cluster-e\n  labels: {{kubernetes.io/service-name: api}}\n" +
            $"addressType: {type}\nports: [{{name: secure, port: 6443, protocol: TCP}}]\nendpoints:\n- addresses: [{addresses}]\n";
        var outcome = new TestPipeline().ApplyYaml(Seed + Cluster("e") + service
            + Slice("v4", "IPv4", "\"10.0.0.1\", \"2001:db8::9\", \"10.0.0.010\", \"not-an-ip\", \"10.0.0.2/32\"")
            + Slice("v6", "IPv6", "\"2001:DB8::1\", \"10.0.0.3\", \"fe80::1%eth0\"")
            + Slice("dns", "FQDN", "\"api.example.com\""));

        Assert.True(outcome.Applied, outcome.RejectedBecause);
        var assignment = (ClusterLoadAssignment)outcome.Current!.Snapshot.Get(TypeUrls.Endpoint).Resources["cluster-e/api-secure"].Message;
        var served = assignment.Endpoints.SelectMany(l => l.LbEndpoints).Select(e => e.Endpoint.Address.SocketAddress.Address).Order(StringComparer.Ordinal);
        Assert.Equal(["10.0.0.1", "2001:db8::1"], served);
        var bad = outcome.Diagnostics.Where(d => d.Code == "InvalidEndpointAddress").Select(d => $"{d.Object} {d.Field}").ToList();
        Assert.Equal([
            "EndpointSlice/cluster-e/v4 endpoints[0].addresses[1]",
            "EndpointSlice/cluster-e/v4 endpoints[0].addresses[2]",
            "EndpointSlice/cluster-e/v4 endpoints[0].addresses[3]",
            "EndpointSlice/cluster-e/v4 endpoints[0].addresses[4]",
            "EndpointSlice/cluster-e/v6 endpoints[0].addresses[1]",
            "EndpointSlice/cluster-e/v6 endpoints[0].addresses[2]",
        ], bad);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "UnsupportedAddressType" && d.Object == "EndpointSlice/cluster-e/dns" && d.Field == "addressType");
    }

    [Fact]
    public void ServicesWithoutTheirClusterAreNeverServedOpen()
    {
        var services = SniService("cluster-m", "apiserver-external", "m.example.com");

        // First start, no Cluster ever seen: the tenant is not served at all.
        var pipeline = new TestPipeline();
        var first = pipeline.ApplyYaml(Seed + Cluster("other", strategy: "Tunneling") + SniService("cluster-other", "apiserver-external", "other.example.com") + services);
        Assert.True(first.Applied, first.RejectedBecause);
        Assert.Null(first.Current!.GetReport("m"));
        Assert.Throws<InvalidOperationException>(() => RbacEvaluator.SniRbac(first.Current.Snapshot, "m.example.com"));
        var missing = Assert.Single(first.Diagnostics, d => d.Code == "ClusterMissing");
        Assert.Equal("Namespace/cluster-m", missing.Object);
        Assert.Equal("m", missing.TenantId);

        // Running with its list, then the Cluster vanishes: the last good list stays in force.
        Assert.True(pipeline.ApplyYaml(Seed + Cluster("m", strategy: "Tunneling") + services).Applied);
        var vanished = pipeline.ApplyYaml(Seed + services);
        Assert.True(vanished.Applied, vanished.RejectedBecause);
        var rbac = RbacEvaluator.SniRbac(vanished.Current!.Snapshot, "m.example.com");
        Assert.True(RbacEvaluator.Allows(rbac, IPAddress.Parse("203.0.113.7")));
        Assert.False(RbacEvaluator.Allows(rbac, IPAddress.Parse("198.51.100.7")), "a tenant whose Cluster vanished was served open");
        Assert.True(vanished.Current.GetReport("m")!.ServingLastGood);
        Assert.Contains(vanished.Diagnostics, d => d.Code == "ClusterMissing" && d.TenantId == "m");
    }

    [Fact]
    public void ObjectsWithoutANameAreReportedNotFatal()
    {
        var outcome = new TestPipeline().ApplyYaml(Seed + "---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nspec: {exposeStrategy: Tunneling}\n"
            + Cluster("a", strategy: "Tunneling") + SniService("cluster-a", "apiserver-external", "a.example.com"));

        Assert.True(outcome.Applied, outcome.RejectedBecause);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "MissingName" && d.Object == "Cluster");
        Assert.NotNull(outcome.Current!.GetReport("a"));
    }

    [Fact]
    public void AnExceptionInsideTheCompileKeepsTheLastGoodSnapshot()
    {
        var pipeline = new TestPipeline();
        var good = pipeline.ApplyYaml(Seed + Cluster("a", strategy: "Tunneling") + SniService("cluster-a", "apiserver-external", "a.example.com"));
        Assert.True(good.Applied);
        var published = pipeline.Published.Count;

        // A model no source makes (the translation keeps a Service in its own tenant): two tenants holding one
        // Service, so one resource name twice. The (full: the seed changed) compile throws; the pipeline must not.
        var port = new ExposedPort { Name = "secure", Port = 443, NodePort = 31005, ViaNodePort = true };
        var shared = new ExposedService { Namespace = "cluster-z", Name = "api", Ports = ValueList.From([port]) };
        var bad = new PipelineInput(good.Current!.Model.Seed with { Name = "changed" }, ValueList.From([
            new Tenant { Id = "y", Services = ValueList.From([shared]) },
            new Tenant { Id = "z", Services = ValueList.From([shared]) },
        ]), new HashSet<string>(), []);
        var outcome = pipeline.Pipeline.Apply(bad);

        Assert.False(outcome.Applied);
        Assert.Same(good.Current, pipeline.Pipeline.Current);
        Assert.Equal(published, pipeline.Published.Count);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "CompileFailed");
        Assert.Contains("compiling the input failed", outcome.RejectedBecause);

        // And it goes on: the next good input is applied.
        var next = pipeline.ApplyYaml(Seed + Cluster("a", "\"198.51.100.0/24\"", "Tunneling") + SniService("cluster-a", "apiserver-external", "a.example.com"));
        Assert.True(next.Applied, next.RejectedBecause);
        Assert.True(RbacEvaluator.Allows(RbacEvaluator.SniRbac(next.Current!.Snapshot, "a.example.com"), IPAddress.Parse("198.51.100.7")));
    }

    [Fact]
    public void AnExceptionFromPublishingKeepsTheLastGoodSnapshot()
    {
        var fail = false;
        var pipeline = new ConfigPipeline(_ => fail ? throw new InvalidOperationException("the cache broke") : [], NullLogger<ConfigPipeline>.Instance);
        var yaml = Seed + Cluster("a", strategy: "Tunneling") + SniService("cluster-a", "apiserver-external", "a.example.com");
        Assert.True(pipeline.Apply(TestPipeline.ToInput(Sources.Translation.InventoryTranslator.Translate(TestPipeline.Inventory(yaml)))).Applied);
        var before = pipeline.Current;
        fail = true;
        var outcome = pipeline.Apply(TestPipeline.ToInput(Sources.Translation.InventoryTranslator.Translate(TestPipeline.Inventory(yaml.Replace("203.0.113.0/24", "10.0.0.0/8", StringComparison.Ordinal)))));
        Assert.False(outcome.Applied);
        Assert.Same(before, pipeline.Current);
        Assert.Contains(outcome.Diagnostics, d => d.Code == "CompileFailed" && d.Message.Contains("the cache broke", StringComparison.Ordinal));
    }
}
