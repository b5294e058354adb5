using k8s;
using k8s.Models;
using Xunit.Abstractions;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>The folder source and the Kubernetes source, fed the same objects, translate to the same model.</summary>
public sealed class SourceEquivalenceTests(ITestOutputHelper output)
{
    private const string SeedManifests = """
        apiVersion: kubermatic.k8c.io/v1
        kind: Seed
        metadata:
          name: europe-west
          namespace: kubermatic
          annotations:
            nodeport-proxy.k8s.io/cloud-provider: aws
        spec:
          country: DE
          location: Frankfurt
          defaultAPIServerAllowedIPRanges: ["192.0.2.0/28"]
          datacenters:
            aws-eu-central-1a:
              country: DE
              location: EU (Frankfurt)
              spec:
                aws:
                  region: eu-central-1
        ---
        apiVersion: kubermatic.k8c.io/v1
        kind: Cluster
        metadata:
          name: tun1
          labels: {project-id: p1}
        spec:
          humanReadableName: tunnel one
          exposeStrategy: Tunneling
          apiServerAllowedIPRanges:
            cidrBlocks: ["203.0.113.0/24", "2001:db8::/32"]
          cloud:
            dc: aws-eu-central-1a
            providerName: aws
            aws: {vpcID: vpc-1}
        ---
        apiVersion: kubermatic.k8c.io/v1
        kind: Cluster
        metadata:
          name: np2
        spec:
          exposeStrategy: NodePort
          apiServerAllowedIPRanges:
            cidrBlocks: ["198.51.100.0/24"]
          cloud:
            dc: hetzner-fsn1
            hetzner: {network: kkp}
        ---
        apiVersion: kubermatic.k8c.io/v1
        kind: Cluster
        metadata:
          name: bad3
        spec:
          exposeStrategy: Tunneling
          apiServerAllowedIPRanges:
            cidrBlocks: ["10.0.0.1/8"]
          cloud: {providerName: aws}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: apiserver-external
          namespace: cluster-tun1
          creationTimestamp: "2025-01-02T03:04:05Z"
          annotations:
            nodeport-proxy.k8s.io/expose: SNI,Tunneling
            nodeport-proxy.k8s.io/port-mapping: '{"secure":"tun1.europe-west.kkp.example.com"}'
        spec:
          type: ClusterIP
          ports:
          - {name: secure, port: 443, protocol: TCP, targetPort: 30443}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: konnectivity-server
          namespace: cluster-tun1
          annotations:
            nodeport-proxy.k8s.io/expose: SNI
            nodeport-proxy.k8s.io/port-mapping: '{"secure":"konnectivity-server.tun1.europe-west.kkp.example.com"}'
        spec:
          type: ClusterIP
          ports:
          - {name: secure, port: 8132, protocol: TCP}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: apiserver-external
          namespace: cluster-np2
          annotations:
            nodeport-proxy.k8s.io/expose: "true"
        spec:
          type: NodePort
          ports:
          - {name: secure, port: 443, nodePort: 31443, protocol: TCP}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: apiserver-external
          namespace: cluster-bad3
          annotations:
            nodeport-proxy.k8s.io/expose: SNI,Tunneling
            nodeport-proxy.k8s.io/port-mapping: '{"secure":"bad3.europe-west.kkp.example.com"}'
        spec:
          ports:
          - {name: secure, port: 443, protocol: TCP}
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: metrics
          namespace: kube-system
        spec:
          ports:
          - {name: http, port: 9090}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: apiserver-external-x1
          namespace: cluster-tun1
          labels: {kubernetes.io/service-name: apiserver-external}
        addressType: IPv4
        ports:
        - {name: secure, port: 30443, protocol: TCP}
        endpoints:
        - addresses: ["10.244.1.5"]
          conditions: {ready: true}
        - addresses: ["10.244.2.7"]
          conditions: {ready: false}
        - addresses: ["10.244.3.9"]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: konnectivity-server-y2
          namespace: cluster-tun1
          labels: {kubernetes.io/service-name: konnectivity-server}
        addressType: IPv4
        ports:
        - {name: secure, port: 8132, protocol: TCP}
        endpoints:
        - addresses: ["10.244.1.6"]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: apiserver-external-z3
          namespace: cluster-np2
          labels: {kubernetes.io/service-name: apiserver-external}
        addressType: IPv4
        ports:
        - {name: secure, port: 6443, protocol: TCP}
        endpoints:
        - addresses: ["10.244.4.1", "10.244.4.2"]
        """;

    [Fact]
    public async Task FolderAndKubernetesSources_TranslateTheSameObjectsToEqualModels()
    {
        var objects = FolderSource.ParseManifests(SeedManifests);
        var folderInventory = new SeedInventory(
            objects.OfType<KkpSeed>().ToList(), objects.OfType<KkpCluster>().ToList(),
            objects.OfType<V1Service>().ToList(), objects.OfType<V1EndpointSlice>().ToList());

        await using var h = await SourceHarness.CreateAsync(output);
        foreach (var obj in objects)
        {
            h.Server.Upsert(ResourceOf(obj), obj);
        }
        h.Start();
        var inventory = await h.Sink.WaitForAsync(i => i.Clusters.Count == 3, "all objects");

        var options = h.Source.Options.ToTranslationOptions();
        var fromFolder = InventoryTranslator.Translate(folderInventory, options);
        var fromKubernetes = InventoryTranslator.Translate(inventory, options);

        Assert.NotNull(fromFolder.Seed);
        Assert.Equal(fromFolder.Seed, fromKubernetes.Seed);
        Assert.Equal(["np2", "tun1"], fromKubernetes.Tenants.Select(t => t.Id));
        Assert.Equal(fromFolder.Tenants, fromKubernetes.Tenants);
        Assert.True(fromFolder.Tenants.Equals(fromKubernetes.Tenants)); // the model's own value equality
        Assert.Equal(fromFolder.FailedTenants.Order(), fromKubernetes.FailedTenants.Order());
        Assert.Contains("bad3", fromKubernetes.FailedTenants);
        Assert.Equal(fromFolder.Diagnostics, fromKubernetes.Diagnostics);
        // the Kubernetes source serves only exposed Services and their slices; the translation does not miss the rest
        Assert.Equal(4, inventory.Services.Count);
        Assert.Equal(3, inventory.EndpointSlices.Count);
        var tun1 = fromKubernetes.Tenants.Single(t => t.Id == "tun1");
        Assert.Equal(2, tun1.AllowedRanges.Count);
        Assert.Equal([new UpstreamEndpoint("10.244.1.5", 30443), new UpstreamEndpoint("10.244.3.9", 30443)],
            tun1.Services.Single(s => s.Name == "apiserver-external").Ports.Single().Endpoints);
    }

    /// <summary>A Cluster as KKP (v2.2x) publishes it, with the many fields the proxy does not read.</summary>
    public const string RealKkpCluster = """
        {
          "apiVersion": "kubermatic.k8c.io/v1",
          "kind": "Cluster",
          "metadata": {
            "name": "xk7p2n9m4q",
            "uid": "6f1c2b3a-9d8e-4f70-a1b2-c3d4e5f60718",
            "generation": 14,
            "creationTimestamp": "2025-03-11T09:12:44Z",
            "finalizers": [
              "kubermatic.k8c.io/cleanup-in-cluster-lb",
              "kubermatic.k8c.io/cleanup-credentials-secrets",
              "kubermatic.k8c.io/delete-nodes",
              "kubermatic.k8c.io/cleanup-aws-security-group",
              "kubermatic.k8c.io/cleanup-aws-instance-profile"
            ],
            "labels": {"project-id": "s8kkbz2x5v", "worker-name": "", "is-credential-preset": "true"},
            "annotations": {
              "kubermatic.io/aws-region": "eu-central-1",
              "presetName": "aws-prod",
              "nodeport-proxy.k8s.io/allowlist-mode": "dry-run"
            },
            "ownerReferences": [
              {"apiVersion": "kubermatic.k8c.io/v1", "kind": "Project", "name": "s8kkbz2x5v", "uid": "0d9a8b7c-6e5f-4a3b-2c1d-0e9f8a7b6c5d"}
            ],
            "managedFields": [
              {"manager": "kubermatic-api", "operation": "Update", "apiVersion": "kubermatic.k8c.io/v1", "time": "2025-03-11T09:12:44Z",
               "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:humanReadableName": {}}}}
            ]
          },
          "spec": {
            "humanReadableName": "payments-prod",
            "version": "1.30.5",
            "exposeStrategy": "Tunneling",
            "apiServerAllowedIPRanges": {"cidrBlocks": ["203.0.113.0/24", "2001:db8:1234::/48"]},
            "cloud": {
              "dc": "aws-eu-central-1a",
              "providerName": "aws",
              "aws": {
                "credentialsReference": {"name": "credential-aws-xk7p2n9m4q", "namespace": "kubermatic"},
                "instanceProfileName": "kubernetes-xk7p2n9m4q",
                "roleARN": "arn:aws:iam::123456789012:role/kubernetes-xk7p2n9m4q-control-plane",
                "routeTableID": "rtb-0a1b2c3d4e5f60718",
                "securityGroupID": "sg-0abc123def4567890",
                "vpcID": "vpc-0123456789abcdef0",
                "nodePortsAllowedIPRange": "0.0.0.0/0",
                "nodePortsAllowedIPRanges": {"cidrBlocks": ["0.0.0.0/0", "::/0"]},
                "disableIAMReconciling": false
              }
            },
            "clusterNetwork": {
              "ipFamily": "IPv4+IPv6",
              "pods": {"cidrBlocks": ["172.25.0.0/16", "fd01::/48"]},
              "services": {"cidrBlocks": ["10.240.16.0/20", "fd02::/120"]},
              "dnsDomain": "cluster.local",
              "proxyMode": "ebpf",
              "ipvs": {"strictArp": true},
              "nodeLocalDNSCacheEnabled": true,
              "konnectivityEnabled": true,
              "nodeCidrMaskSizeIPv4": 24,
              "nodeCidrMaskSizeIPv6": 64
            },
            "componentsOverride": {
              "apiserver": {"replicas": 2, "endpointReconcilingDisabled": false, "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}},
              "controllerManager": {"replicas": 1, "leaderElection": {}},
              "etcd": {"clusterSize": 3, "diskSize": "5Gi", "storageClass": "kubermatic-fast"},
              "konnectivityProxy": {"resources": {}},
              "prometheus": {},
              "scheduler": {"replicas": 1},
              "nodePortRange": "30000-32767"
            },
            "cniPlugin": {"type": "cilium", "version": "1.15.3"},
            "features": {"apiserverNetworkPolicy": true, "externalCloudProvider": true, "etcdLauncher": true, "ccmClusterName": true},
            "auditLogging": {"enabled": false},
            "enableUserSSHKeyAgent": true,
            "kubernetesDashboard": {"enabled": true},
            "mla": {"loggingEnabled": false, "monitoringEnabled": false},
            "oidc": {},
            "opaIntegration": {"enabled": false, "webhookTimeoutSeconds": 10},
            "pause": false,
            "containerRuntime": "containerd",
            "eventRateLimitConfig": {}
          },
          "status": {
            "address": {
              "adminToken": "abcdef.0123456789abcdef",
              "externalName": "xk7p2n9m4q.europe-west.kkp.example.com",
              "internalURL": "apiserver-external.cluster-xk7p2n9m4q.svc.cluster.local.",
              "ip": "198.51.100.7",
              "port": 6443,
              "url": "https://xk7p2n9m4q.europe-west.kkp.example.com:6443"
            },
            "conditions": {
              "AddonControllerReconciledSuccessfully": {"kubermaticVersion": "v2.26.2", "lastHeartbeatTime": "2025-03-11T09:20:00Z", "lastTransitionTime": "2025-03-11T09:15:00Z", "status": "True"},
              "ClusterControllerReconciledSuccessfully": {"kubermaticVersion": "v2.26.2", "lastHeartbeatTime": "2025-03-11T09:20:00Z", "lastTransitionTime": "2025-03-11T09:15:00Z", "status": "True"},
              "EtcdClusterInitialized": {"kubermaticVersion": "v2.26.2", "lastHeartbeatTime": "2025-03-11T09:16:00Z", "lastTransitionTime": "2025-03-11T09:16:00Z", "status": "True"}
            },
            "extendedHealth": {
              "apiserver": "HealthStatusUp", "applicationController": "HealthStatusUp", "cloudProviderInfrastructure": "HealthStatusUp",
              "controller": "HealthStatusUp", "etcd": "HealthStatusUp", "machineController": "HealthStatusUp", "scheduler": "HealthStatusUp",
              "userClusterControllerManager": "HealthStatusUp", "konnectivity": "HealthStatusUp"
            },
            "lastProviderReconciliation": "2025-03-11T09:14:00Z",
            "namespaceName": "cluster-xk7p2n9m4q",
            "phase": "Running",
            "userEmail": "ops@example.com",
            "versions": {"apiserver": "1.30.5", "controlPlane": "1.30.5", "controllerManager": "1.30.5", "scheduler": "1.30.5"}
          }
        }
        """;

    [Fact]
    public async Task RealKkpClusterObject_IsReadWithoutLosingTheFieldsWeUse()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        h.Server.Upsert("clusters", RealKkpCluster);
        h.Start();
        var inventory = await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "the KKP cluster");

        var cluster = inventory.Clusters[0];
        Assert.Equal("xk7p2n9m4q", cluster.Metadata.Name);
        Assert.Equal("6f1c2b3a-9d8e-4f70-a1b2-c3d4e5f60718", cluster.Metadata.Uid);
        Assert.Equal("dry-run", cluster.Metadata.Annotations[Annotations.AllowlistMode]);
        Assert.Equal("Tunneling", cluster.Spec!.ExposeStrategy);
        Assert.Equal("payments-prod", cluster.Spec.HumanReadableName);
        Assert.Equal(["203.0.113.0/24", "2001:db8:1234::/48"], cluster.Spec.ApiServerAllowedIPRanges!.CidrBlocks!);
        Assert.Equal("aws", cluster.Spec.Cloud!.ProviderName);
        Assert.Equal("aws-eu-central-1a", cluster.Spec.Cloud.DatacenterName);
        Assert.Equal("vpc-0123456789abcdef0", cluster.Spec.Cloud.ProviderBlocks!["aws"].GetProperty("vpcID").GetString());

        // The same object read as a manifest (JSON is YAML) by the folder source translates identically.
        var fromFile = FolderSource.ParseManifests(RealKkpCluster).OfType<KkpCluster>().Single();
        var viaFolder = InventoryTranslator.Translate(inventory with { Clusters = [fromFile] });
        var viaKubernetes = InventoryTranslator.Translate(inventory);
        Assert.Equal(viaFolder.Tenants, viaKubernetes.Tenants);
        var tenant = Assert.Single(viaKubernetes.Tenants);
        Assert.Equal(ExposeStrategy.Tunneling, tenant.Strategy);
        Assert.Equal(AllowlistMode.DryRun, tenant.AllowlistMode);
        Assert.Equal("aws", tenant.CloudProviderName);
        Assert.Equal(2, tenant.AllowedRanges.Count);
        Assert.Empty(viaKubernetes.FailedTenants);

        // And straight through the client's serializer, as a watch event carries it.
        var direct = KubernetesJson.Deserialize<KkpCluster>(RealKkpCluster);
        Assert.Equal(cluster.Spec.ApiServerAllowedIPRanges.CidrBlocks, direct.Spec!.ApiServerAllowedIPRanges!.CidrBlocks);
    }

    private static string ResourceOf(object obj) => obj switch
    {
        KkpSeed => "seeds",
        KkpCluster => "clusters",
        V1Service => "services",
        V1EndpointSlice => "endpointslices",
        _ => throw new ArgumentException(obj.GetType().Name),
    };
}
