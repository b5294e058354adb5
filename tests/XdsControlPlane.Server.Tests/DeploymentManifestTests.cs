using System.Net;
using Envoy.Config.Listener.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Tests.KubernetesWatch;
using YamlDotNet.RepresentationModel;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// The shipped manifests (envoy-config/kubernetes, as kustomization.yaml lists them; no cluster, no kubectl) agree
/// with the program: the control plane's args go through the real command line, and started with them against the
/// API-server stand-in the host answers a real ADS request made as the shipped Envoy makes it (the bootstrap's
/// address, node id and cluster) and its probe paths on the metrics listener. The ports, names and probes of the
/// Deployment, the bootstrap and the Service agree.
/// </summary>
public sealed class DeploymentManifestTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/kubernetes");
    private static readonly Func<string, string?> InAPod = name => name == "KUBERNETES_SERVICE_HOST" ? "10.96.0.1" : null;

    [Fact]
    public void KustomizationSetsTheImageInOnePlace()
    {
        var kustomization = Load("kustomization.yaml").Single();
        var images = (YamlSequenceNode)kustomization["images"];
        var image = (YamlMappingNode)Assert.Single(images);
        var controlPlane = ControlPlaneContainer();
        Assert.Equal(Scalar(image, "name"), Scalar(controlPlane, "image"));
        Assert.False(string.IsNullOrEmpty(Scalar(image, "newName")));
        Assert.False(string.IsNullOrEmpty(Scalar(image, "newTag")));
        Assert.NotEqual("latest", Scalar(image, "newTag"));
    }

    [Fact]
    public void TheShippedArgsGoThroughTheRealCommandLine()
    {
        var result = ControlPlaneCommandLine.Parse(Args(ControlPlaneContainer()), InAPod);
        Assert.True(result.Error is null, result.Error);
        Assert.Equal("kubernetes", result.Server!.Source);
        Assert.NotNull(result.Kubernetes);
        // Chosen by the Kubernetes flags themselves too, not only by running in a pod.
        Assert.Equal("kubernetes", ControlPlaneCommandLine.Parse(Args(ControlPlaneContainer()), _ => null).Server!.Source);
    }

    [Fact]
    public void PortsNodeAndClusterAgreeWithTheBootstrapAndEnvoy()
    {
        var (server, kubernetes) = ShippedOptions();
        var bootstrap = Bootstrap();
        var endpoint = XdsClusterEndpoint(bootstrap);
        Assert.Equal(server.ListenAddress, endpoint);

        var node = (YamlMappingNode)bootstrap["node"];
        var envoy = Container("envoy");
        var envoyArgs = Args(envoy);
        Assert.Equal(server.EnvoyNodeName, Scalar(node, "id"));
        Assert.Contains($"--service-node={server.EnvoyNodeName}", envoyArgs);
        Assert.NotNull(server.EnvoyClusterName);
        Assert.Equal(server.EnvoyClusterName, Scalar(node, "cluster"));
        Assert.Contains($"--service-cluster={server.EnvoyClusterName}", envoyArgs);

        // Envoy's ports (served by the listeners this control plane builds) are declared, and the Service sends to them.
        var envoyPorts = ContainerPorts(envoy);
        Assert.Equal(kubernetes.EnvoySniPort, envoyPorts["sni"]);
        Assert.Equal(kubernetes.EnvoyTunnelingPort, envoyPorts["tunneling"]);
        var service = Load("service.yaml").Single();
        var spec = (YamlMappingNode)service["spec"];
        var targets = ((YamlSequenceNode)spec["ports"]).Cast<YamlMappingNode>().Select(p => int.Parse(Scalar(p, "targetPort")!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(kubernetes.EnvoySniPort, targets);
        Assert.Contains(kubernetes.EnvoyTunnelingPort, targets);
        // The allowlists judge the client's address: the load balancer must keep it (docs/enforcement.md).
        Assert.Equal("Local", Scalar(spec, "externalTrafficPolicy"));
    }

    [Fact]
    public void ProbesPointAtServedPathsOnDeclaredPorts()
    {
        var (server, _) = ShippedOptions();
        var controlPlane = ControlPlaneContainer();
        var ports = ContainerPorts(controlPlane);
        var liveness = Probe(controlPlane, "livenessProbe");
        var readiness = Probe(controlPlane, "readinessProbe");
        Assert.Equal("/healthz", liveness.Path);
        Assert.Equal("/readyz", readiness.Path);
        foreach (var probe in new[] { liveness, readiness })
        {
            // The kubelet reaches the pod's address: the metrics listener must not be loopback, and its port declared.
            Assert.Equal(server.MetricsAddress.Port, ports.GetValueOrDefault(probe.Port, int.TryParse(probe.Port, out var n) ? n : -1));
            Assert.False(IPAddress.IsLoopback(server.MetricsAddress.Address));
        }
        Assert.Equal(server.ListenAddress.Port, ports["xds"]);
        // The debug views show every tenant's policy: they stay on loopback in the shipped Deployment.
        Assert.True(IPAddress.IsLoopback(server.DebugAddress.Address));

        var envoy = Container("envoy");
        foreach (var name in new[] { "livenessProbe", "readinessProbe" })
        {
            var probe = Probe(envoy, name);
            Assert.Equal("/healthz", probe.Path);
            Assert.Contains(int.Parse(probe.Port, System.Globalization.CultureInfo.InvariantCulture), ContainerPorts(envoy).Values);
        }
    }

    [Fact]
    public void ContainersRunAsNonRootOnAReadOnlyRoot()
    {
        foreach (var container in new[] { ControlPlaneContainer(), Container("envoy") })
        {
            var security = (YamlMappingNode)container["securityContext"];
            Assert.Equal("false", Scalar(security, "allowPrivilegeEscalation"));
            Assert.Equal("true", Scalar(security, "readOnlyRootFilesystem"));
            var drop = (YamlSequenceNode)((YamlMappingNode)security["capabilities"])["drop"];
            Assert.Equal("ALL", Assert.Single(drop).ToString());
        }
        var controlPlaneSecurity = (YamlMappingNode)ControlPlaneContainer()["securityContext"];
        Assert.Equal("true", Scalar(controlPlaneSecurity, "runAsNonRoot"));
        Assert.Equal("65532", Scalar(controlPlaneSecurity, "runAsUser"));
    }

    /// <summary>
    /// The shipped args, started (ports swapped for free ones, so tests can run side by side, and a kubeconfig for the
    /// stand-in instead of the pod's service account; everything else as shipped): an ADS request made as the shipped
    /// Envoy makes it is answered with the tenant's listeners, and Envoy's probe port is the served stats listener.
    /// </summary>
    [Fact]
    public async Task TheShippedArgsServeXdsToTheShippedEnvoy()
    {
        await using var api = await FakeApiServer.StartAsync();
        api.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(api, "a1b2c3d4e5", "203.0.113.0/24");
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"kubeconfig-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(kubeconfig, KubeconfigFor(api.Url));
        var (server, kubernetes) = ShippedOptions();
        var free = new IPEndPoint(IPAddress.Loopback, 0);
        var app = ControlPlaneApp.Build(server with { ListenAddress = free, DebugAddress = free, MetricsAddress = free },
            kubernetes with { Kubeconfig = kubeconfig });
        try
        {
            await app.StartAsync();
            // Kestrel reports the endpoints in the order they were configured: xDS, debug, metrics.
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
            var xds = addresses[0];
            using var channel = GrpcChannel.ForAddress(xds);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var client = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
            using var stream = client.StreamAggregatedResources(cancellationToken: cts.Token);
            var bootstrapNode = (YamlMappingNode)Bootstrap()["node"];
            var node = new Envoy.Config.Core.V3.Node { Id = Scalar(bootstrapNode, "id"), Cluster = Scalar(bootstrapNode, "cluster") };
            await stream.RequestStream.WriteAsync(new DiscoveryRequest { Node = node, TypeUrl = Snapshots.TypeUrls.Listener });

            // The first answer comes once the source has synced and the tenant is compiled; nothing else is sent before.
            Assert.True(await stream.ResponseStream.MoveNext(cts.Token));
            var response = stream.ResponseStream.Current;
            Assert.Equal(Snapshots.TypeUrls.Listener, response.TypeUrl);
            var listeners = response.Resources.Select(r => r.Unpack<Listener>()).ToDictionary(l => l.Name);
            Assert.Equal((uint)kubernetes.EnvoySniPort, listeners["sni_listener"].Address.SocketAddress.PortValue);
            Assert.Equal((uint)kubernetes.EnvoyTunnelingPort, listeners["tunneling_listener"].Address.SocketAddress.PortValue);
            var envoyProbe = Probe(Container("envoy"), "readinessProbe");
            Assert.Equal(uint.Parse(envoyProbe.Port, System.Globalization.CultureInfo.InvariantCulture), listeners["service_stats"].Address.SocketAddress.PortValue);

            // The control plane's own probes, on the metrics listener: served, and ready once the snapshot is out.
            using var metrics = new HttpClient { BaseAddress = new Uri(addresses[2]), Timeout = TimeSpan.FromSeconds(10) };
            foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
            {
                var path = Probe(ControlPlaneContainer(), probe).Path;
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                HttpStatusCode status;
                while ((status = (await metrics.GetAsync(path, cts.Token)).StatusCode) != HttpStatusCode.OK && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(100, cts.Token);
                }
                Assert.True(status == HttpStatusCode.OK, $"{probe} {path} answered {status}");
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            File.Delete(kubeconfig);
        }
        Assert.Empty(api.Failures);
    }

    internal static string KubeconfigFor(string url) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: stand-in
          cluster: {"{"}server: "{url}"{"}"}
        users:
        - name: proxy
          user: {"{"}token: test-token{"}"}
        contexts:
        - name: stand-in
          context: {"{"}cluster: stand-in, user: proxy{"}"}
        current-context: stand-in
        """;

    private static (ServerOptions Server, Sources.Kubernetes.Watch.KubernetesSourceOptions Kubernetes) ShippedOptions()
    {
        var result = ControlPlaneCommandLine.Parse(Args(ControlPlaneContainer()), InAPod);
        Assert.True(result.Error is null, result.Error);
        return (result.Server!, result.Kubernetes!);
    }

    /// <summary>Every document of every file kustomization.yaml lists, as it lists them.</summary>
    private static IEnumerable<YamlMappingNode> Resources()
    {
        var kustomization = Load("kustomization.yaml").Single();
        return ((YamlSequenceNode)kustomization["resources"]).Select(r => r.ToString()).SelectMany(Load);
    }

    private static List<YamlMappingNode> Load(string file)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Folder, file)))
        {
            yaml.Load(reader);
        }
        return yaml.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    private static YamlMappingNode Object(string kind, string name) =>
        Resources().Single(r => Scalar(r, "kind") == kind && Scalar((YamlMappingNode)r["metadata"], "name") == name);

    private static YamlMappingNode Container(string name)
    {
        var deployment = Object("Deployment", "nodeport-proxy-envoy");
        var pod = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["template"])["spec"];
        return ((YamlSequenceNode)pod["containers"]).Cast<YamlMappingNode>().Single(c => Scalar(c, "name") == name);
    }

    private static YamlMappingNode ControlPlaneContainer() => Container("xds-control-plane");

    private static YamlMappingNode Bootstrap()
    {
        var configMap = Object("ConfigMap", "nodeport-proxy-envoy-bootstrap");
        var text = Scalar((YamlMappingNode)configMap["data"], "envoy.yaml")!;
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static IPEndPoint XdsClusterEndpoint(YamlMappingNode bootstrap)
    {
        var grpc = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)((YamlMappingNode)bootstrap["dynamic_resources"])["ads_config"])["grpc_services"])[0];
        var clusterName = Scalar((YamlMappingNode)grpc["envoy_grpc"], "cluster_name");
        var clusters = (YamlSequenceNode)((YamlMappingNode)bootstrap["static_resources"])["clusters"];
        var cluster = clusters.Cast<YamlMappingNode>().Single(c => Scalar(c, "name") == clusterName);
        var endpoints = (YamlSequenceNode)((YamlMappingNode)cluster["load_assignment"])["endpoints"];
        var lb = (YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)endpoints[0])["lb_endpoints"])[0];
        var socket = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)lb["endpoint"])["address"])["socket_address"];
        return new IPEndPoint(IPAddress.Parse(Scalar(socket, "address")!), int.Parse(Scalar(socket, "port_value")!, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string[] Args(YamlMappingNode container) => ((YamlSequenceNode)container["args"]).Select(a => a.ToString()).ToArray();

    private static Dictionary<string, int> ContainerPorts(YamlMappingNode container) =>
        ((YamlSequenceNode)container["ports"]).Cast<YamlMappingNode>()
            .ToDictionary(p => Scalar(p, "name")!, p => int.Parse(Scalar(p, "containerPort")!, System.Globalization.CultureInfo.InvariantCulture));

    private static (string Path, string Port) Probe(YamlMappingNode container, string name)
    {
        var get = (YamlMappingNode)((YamlMappingNode)container[name])["httpGet"];
        return (Scalar(get, "path")!, Scalar(get, "port")!);
    }

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? ((YamlScalarNode)value).Value : null;
}
