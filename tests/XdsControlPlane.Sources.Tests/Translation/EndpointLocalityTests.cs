using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Tests.Translation;

/// <summary>An EndpointSlice endpoint's zone and node reach the model, sorted by zone, whatever the order of the slices.</summary>
public sealed class EndpointLocalityTests
{
    private const string Head = """
        apiVersion: kubermatic.k8c.io/v1
        kind: Seed
        metadata: {name: s, annotations: {nodeport-proxy.k8s.io/cloud-provider: aws}}
        spec: {}
        ---
        apiVersion: kubermatic.k8c.io/v1
        kind: Cluster
        metadata: {name: z}
        spec: {exposeStrategy: Tunneling}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: api
          namespace: cluster-z
          annotations: {nodeport-proxy.k8s.io/expose: SNI, nodeport-proxy.k8s.io/port-mapping: '{"secure":"z.example.com"}'}
        spec:
          type: NodePort
          ports: [{name: secure, port: 443, targetPort: 6443, protocol: TCP, nodePort: 30443}]

        """;

    private const string SliceB = """
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: api-b, namespace: cluster-z, labels: {kubernetes.io/service-name: api}}
        addressType: IPv4
        ports: [{name: secure, port: 6443, protocol: TCP}]
        endpoints:
        - {addresses: ["10.0.0.2"], conditions: {ready: true}, zone: zone-b, nodeName: n2}
        - {addresses: ["10.0.0.3"], conditions: {ready: true}}
        - {addresses: ["10.0.0.1"], conditions: {ready: true}, zone: zone-a, nodeName: n1}
        - {addresses: ["10.0.0.8"], conditions: {ready: false}, zone: zone-a, nodeName: n8}

        """;

    // The same address in a second slice, placed in another zone: the ordinally first (zone, node) is kept.
    private const string SliceA = """
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: api-a, namespace: cluster-z, labels: {kubernetes.io/service-name: api}}
        addressType: IPv4
        ports: [{name: secure, port: 6443, protocol: TCP}]
        endpoints:
        - {addresses: ["10.0.0.2"], conditions: {ready: true}, zone: zone-a, nodeName: n9}

        """;

    private static IReadOnlyList<UpstreamEndpoint> Endpoints(string yaml)
    {
        var objects = FolderSource.ParseManifests(yaml);
        var inventory = new SeedInventory(objects.OfType<KkpSeed>().ToList(), objects.OfType<KkpCluster>().ToList(),
            objects.OfType<k8s.Models.V1Service>().ToList(), objects.OfType<k8s.Models.V1EndpointSlice>().ToList());
        var result = InventoryTranslator.Translate(inventory);
        return result.Tenants.Single().Services.Single().Ports.Single().Endpoints;
    }

    [Fact]
    public void ZoneAndNodeAreCarriedAndEndpointsAreSortedByZone()
    {
        UpstreamEndpoint[] expected =
        [
            new("10.0.0.3", 6443, "", ""),
            new("10.0.0.1", 6443, "zone-a", "n1"),
            new("10.0.0.2", 6443, "zone-a", "n9"),
        ];
        Assert.Equal(expected, Endpoints(Head + SliceB + SliceA));
        Assert.Equal(expected, Endpoints(Head + SliceA + SliceB));
    }

    [Fact]
    public void AnEndpointOnlyInOneZoneKeepsIt() =>
        Assert.Equal([new("10.0.0.3", 6443, "", ""), new("10.0.0.1", 6443, "zone-a", "n1"), new UpstreamEndpoint("10.0.0.2", 6443, "zone-b", "n2")],
            Endpoints(Head + SliceB));
}
