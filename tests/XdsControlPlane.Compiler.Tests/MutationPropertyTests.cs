using System.Globalization;
using System.Net;
using CsCheck;
using Envoy.Config.Listener.V3;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;
using Xunit.Abstractions;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// The example seeds, mutated step by step (names, ports, annotations, ranges, duplicates, deletions), through the
/// real translation and pipeline: after every step nothing has thrown, the snapshot is consistent, no two
/// listeners share a port, no two chains a server name, no resource name repeats, and no tenant whose Cluster
/// has a valid list is served open. The incremental result agrees with a full compile of the same model.
/// The seed is fixed; set XDS_PROPERTY_SEED to the seed a failure prints to replay it.
/// </summary>
public sealed class MutationPropertyTests(ITestOutputHelper output)
{
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples");

    /// <summary>Outside every range the mutations write and every example list (TEST-NET-2 is not used there as a /15).</summary>
    private static readonly IPAddress Outsider = IPAddress.Parse("198.18.0.1");

    private static readonly string[] Names = ["b", "b-c", "apiserver-external", "konnectivity-server", "a"];
    private static readonly string[] PortNames = ["x", "c-x", "secure", "", "https"];
    private static readonly int[] NodePorts = [30001, 30002, 31443, 6443, 8002, 8088, 9001, 0, 70000, -1];
    private static readonly string[] Exposes = ["NodePort", "SNI", "SNI,Tunneling", "Tunneling", "true", "bogus", "NodePort,SNI"];
    private static readonly string[] Hostnames = ["a.example.com", "b.example.com", "*.example.com", "bad_host", "k7x2m9p4qz.europe-central.dev.kubermatic.io", "A.Example.com"];
    private static readonly string[][] Ranges = [[], ["10.0.0.0/8"], ["bad"], ["203.0.113.0/24", "2001:db8::/32"], ["10.0.0.1/8"], ["100.64.0.0/10"]];
    private static readonly string[] Namespaces = ["cluster-new", "x", "kube-system", "cluster-", "cluster-k7x2m9p4qz", "cluster-b5n8w3r6tj"];
    private static readonly string[] Addresses = ["10.0.0.1", "2001:db8::1", "bogus", "10.0.0.010", "2001:DB8::2", "fe80::1%eth0", "10.0.0.2"];
    private static readonly string[] AddressTypes = ["IPv4", "IPv6", "FQDN", "Bogus"];
    private static readonly string[] Strategies = ["NodePort", "Tunneling", "LoadBalancer", "Sideways"];
    private static readonly DateTime[] Created = [new(2023, 1, 1, 0, 0, 0, DateTimeKind.Utc), new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc), new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc)];

    /// <summary>One edit: <see cref="Kind"/> picks what, A..C pick where and to what (taken modulo what exists).</summary>
    public sealed record Mutation(int Kind, int A, int B, int C)
    {
        public const int Kinds = 16;

        public override string ToString() => $"{(MutationKind)Kind}({A},{B},{C})";
    }

    private enum MutationKind
    {
        RenameService, RenamePort, SetNodePort, SetExpose, SetPortMapping, SetRanges, DuplicateService, DeleteService,
        DeleteCluster, SetCreated, SetAddress, SetAddressType, MoveService, SetStrategy, DeleteSlice, DuplicatePort,
    }

    private static readonly Gen<Mutation> MutationGen =
        Gen.Select(Gen.Int[0, Mutation.Kinds - 1], Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.Int[0, 1000], (k, a, b, c) => new Mutation(k, a, b, c));

    private static readonly Gen<(int Example, Mutation[] Steps)> Sequences = Gen.Select(Gen.Int[0, 1], MutationGen.Array[1, 10]);

    [Fact]
    public void MutatedExampleSeedsNeverBreakTheSnapshot()
    {
        var examples = new[] { Load("aws-seed"), Load("hetzner-seed") };
        // One sample of 20 sequences from one seed: the same sequences on every run (CsCheck seeds only the first
        // iteration of a multi-iteration sample; the rest would be random). A failure names the sequence and step.
        var seed = Environment.GetEnvironmentVariable("XDS_PROPERTY_SEED") is { Length: > 0 } chosen ? chosen : "0000000000000";
        Sequences.Array[20].Sample(batch =>
        {
            foreach (var sequence in batch)
            {
                var description = $"{(sequence.Example == 0 ? "aws-seed" : "hetzner-seed")}: {string.Join(", ", sequence.Steps.AsEnumerable())}";
                try
                {
                    var world = World.Of(examples[sequence.Example]);
                    var pipeline = new TestPipeline();
                    Check(pipeline, world, "initial");
                    foreach (var step in sequence.Steps)
                    {
                        world.Apply(step);
                        Check(pipeline, world, step.ToString());
                    }
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException($"sequence {description} failed: {e.Message}", e);
                }
            }
        }, writeLine: output.WriteLine, seed: seed, iter: 1, threads: 1, print: _ => $"XDS_PROPERTY_SEED={seed}");
    }

    private static SeedInventory Load(string name)
    {
        var load = new FolderSource(Path.Combine(Examples, name), NullLogger<FolderSource>.Instance).Load();
        Assert.NotNull(load.Inventory);
        return load.Inventory;
    }

    private static void Check(TestPipeline pipeline, World world, string step)
    {
        var inventory = world.ToInventory();
        var translation = InventoryTranslator.Translate(inventory);
        var outcome = pipeline.Pipeline.Apply(TestPipeline.ToInput(translation));
        Assert.DoesNotContain(outcome.Diagnostics, d => d.Code is "CompileFailed" or "InconsistentSnapshot");
        if (translation.Seed is null || pipeline.Pipeline.Current is not { } current)
        {
            return; // a bad Seed: nothing applied, checked through the last good snapshot at the next step
        }
        Assert.True(outcome.Applied, $"{step}: {outcome.RejectedBecause}");
        var snapshot = current.Snapshot;
        Assert.Empty(SnapshotConsistency.Check(snapshot));

        // No two listeners on one port; none on Envoy's admin port; none for a namespace that is not a served tenant.
        var listeners = snapshot.Get(TypeUrls.Listener).Resources.Values.Select(r => (Name: r.Name, Listener: (Listener)r.Message)).ToList();
        var ports = listeners.Select(l => l.Listener.Address.SocketAddress.PortValue).ToList();
        Assert.True(ports.Count == ports.Distinct().Count(), $"{step}: two listeners share a port: {string.Join(", ", ports.Order())}");
        Assert.DoesNotContain((uint)current.Model.Seed.AdminPort, ports);
        Assert.All(ports, p => Assert.InRange(p, 1u, 65535u));
        var tenantNamespaces = current.Model.Tenants.Select(t => t.Namespace).ToHashSet(StringComparer.Ordinal);

        // No two chains with one server name, and no wildcard.
        var chains = listeners.Where(l => l.Name == EnvoyNames.SniListener).SelectMany(l => l.Listener.FilterChains).ToList();
        var serverNames = chains.SelectMany(c => c.FilterChainMatch.ServerNames).ToList();
        Assert.True(serverNames.Count == serverNames.Distinct(StringComparer.OrdinalIgnoreCase).Count(), $"{step}: two chains share a server name");
        Assert.DoesNotContain(serverNames, n => n.Contains('*', StringComparison.Ordinal));

        // Every per-port resource belongs to a served tenant's namespace (never to "x", "kube-system" or a Service without its Cluster).
        foreach (var typeUrl in new[] { TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener })
        {
            foreach (var name in snapshot.Get(typeUrl).Resources.Keys.Where(n => n.Contains('/', StringComparison.Ordinal)))
            {
                Assert.True(tenantNamespaces.Contains(name[..name.IndexOf('/', StringComparison.Ordinal)]), $"{step}: {typeUrl} {name} is not a tenant's");
            }
        }

        // The incremental result is the full compile's (names and listener ports; the ECDS names carry each path's
        // revocation history, so bytes may differ): a name silently overwritten in one path would show here, and a
        // name twice makes the full compile throw.
        var full = SeedCompiler.Compile(current.Model);
        foreach (var typeUrl in new[] { TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener, TypeUrls.Route })
        {
            Assert.Equal(full.Snapshot.Get(typeUrl).Resources.Keys, snapshot.Get(typeUrl).Resources.Keys);
        }
        Assert.Equal(
            full.Snapshot.Get(TypeUrls.Listener).Resources.ToDictionary(r => r.Key, r => ((Listener)r.Value.Message).Address.SocketAddress.PortValue),
            listeners.ToDictionary(l => l.Name, l => l.Listener.Address.SocketAddress.PortValue));
        Assert.Equal(full.Diagnostics.Select(d => d.ToString()).Order(StringComparer.Ordinal), current.Diagnostics.Select(d => d.ToString()).Order(StringComparer.Ordinal));

        // No tenant whose Cluster has a valid list (and is not failed: a failed tenant keeps its last good policy) is served open.
        foreach (var cluster in inventory.Clusters)
        {
            var id = cluster.Metadata.Name;
            var blocks = cluster.Spec?.ApiServerAllowedIPRanges?.CidrBlocks ?? [];
            if (blocks.Count == 0 || !blocks.All(b => CidrRange.TryParse(b, out _, out _)) || translation.FailedTenants.Contains(id)
                || cluster.Spec?.ExposeStrategy == "LoadBalancer" || current.GetReport(id) is not { } report)
            {
                continue;
            }
            Assert.NotEqual(Enforcement.Unrestricted, report.Enforcement);
            if (report.Enforcement is Enforcement.EnforcedDirect or Enforcement.EnforcedProxyProtocol or Enforcement.NotEnforceableDenyAll)
            {
                var own = chains.Where(c => c.Name.StartsWith($"cluster-{id}/", StringComparison.Ordinal))
                    .Concat(listeners.Where(l => l.Name.StartsWith($"cluster-{id}/", StringComparison.Ordinal)).SelectMany(l => l.Listener.FilterChains));
                foreach (var chain in own)
                {
                    Assert.False(RbacEvaluator.Allows(RbacEvaluator.ChainRbac(snapshot, chain), Outsider, Outsider), $"{step}: {chain.Name} admits {Outsider}");
                }
            }
        }
    }

    /// <summary>The objects of a seed, as editable copies.</summary>
    private sealed class World
    {
        public required List<KkpSeed> Seeds { get; init; }

        public required List<KkpCluster> Clusters { get; init; }

        public required List<V1Service> Services { get; init; }

        public required List<V1EndpointSlice> Slices { get; init; }

        public static World Of(SeedInventory inventory) => new()
        {
            Seeds = [.. inventory.Seeds.Select(Clone)],
            Clusters = [.. inventory.Clusters.Select(Clone)],
            Services = [.. inventory.Services.Select(Clone)],
            Slices = [.. inventory.EndpointSlices.Select(Clone)],
        };

        // Each inventory holds fresh copies: the pipeline keeps models of earlier steps, which must not change under it.
        public SeedInventory ToInventory() =>
            new([.. Seeds.Select(Clone)], [.. Clusters.Select(Clone)], [.. Services.Select(Clone)], [.. Slices.Select(Clone)]);

        private static T Clone<T>(T obj) => KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(obj));

        private static T Pick<T>(IList<T> items, int index) => items[index % items.Count];

        public void Apply(Mutation m)
        {
            var service = Services.Count == 0 ? null : Pick(Services, m.A);
            var ports = service?.Spec?.Ports;
            var port = ports is { Count: > 0 } ? Pick(ports, m.B) : null;
            var cluster = Clusters.Count == 0 ? null : Pick(Clusters, m.A);
            var slice = Slices.Count == 0 ? null : Pick(Slices, m.A);
            switch ((MutationKind)m.Kind)
            {
                case MutationKind.RenameService when service is not null:
                    service.Metadata.Name = Pick(Names, m.C);
                    break;
                case MutationKind.RenamePort when port is not null:
                    port.Name = Pick(PortNames, m.C);
                    break;
                case MutationKind.SetNodePort when port is not null:
                    port.NodePort = Pick(NodePorts, m.C);
                    service!.Spec.Type = "NodePort";
                    break;
                case MutationKind.SetExpose when service is not null:
                    service.Metadata.Annotations ??= new Dictionary<string, string>();
                    service.Metadata.Annotations[Annotations.DefaultExposeKey] = Pick(Exposes, m.C);
                    break;
                case MutationKind.SetPortMapping when port is not null:
                    service!.Metadata.Annotations ??= new Dictionary<string, string>();
                    service.Metadata.Annotations[Annotations.PortMapping] = $"{{\"{port.Name}\":\"{Pick(Hostnames, m.C)}\"}}";
                    break;
                case MutationKind.SetRanges when cluster is not null:
                    cluster.Spec ??= new KkpClusterSpec();
                    cluster.Spec.ApiServerAllowedIPRanges = new KkpNetworkRanges { CidrBlocks = [.. Pick(Ranges, m.C)] };
                    break;
                case MutationKind.DuplicateService when service is not null:
                    var copy = Clone(service);
                    copy.Metadata.NamespaceProperty = Pick(Namespaces.Append(service.Metadata.NamespaceProperty ?? "default").ToList(), m.C);
                    copy.Metadata.CreationTimestamp = Pick(Created, m.B);
                    Services.Add(copy);
                    break;
                case MutationKind.DeleteService when service is not null:
                    Services.Remove(service);
                    break;
                case MutationKind.DeleteCluster when cluster is not null:
                    Clusters.Remove(cluster);
                    break;
                case MutationKind.SetCreated when service is not null:
                    service.Metadata.CreationTimestamp = Pick(Created, m.C);
                    break;
                case MutationKind.SetAddress when slice?.Endpoints is { Count: > 0 } endpoints:
                    var endpoint = Pick(endpoints, m.B);
                    endpoint.Addresses = [Pick(Addresses, m.C)];
                    break;
                case MutationKind.SetAddressType when slice is not null:
                    slice.AddressType = Pick(AddressTypes, m.C);
                    break;
                case MutationKind.MoveService when service is not null:
                    service.Metadata.NamespaceProperty = Pick(Namespaces, m.C);
                    break;
                case MutationKind.SetStrategy when cluster is not null:
                    cluster.Spec ??= new KkpClusterSpec();
                    cluster.Spec.ExposeStrategy = Pick(Strategies, m.C);
                    break;
                case MutationKind.DeleteSlice when slice is not null:
                    Slices.Remove(slice);
                    break;
                case MutationKind.DuplicatePort when port is not null:
                    var twin = Clone(port);
                    twin.Name = Pick(PortNames, m.C);
                    ports!.Add(twin);
                    break;
            }
        }
    }
}
