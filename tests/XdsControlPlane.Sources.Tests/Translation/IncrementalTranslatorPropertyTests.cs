using CsCheck;
using k8s;
using k8s.Models;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;
using XdsControlPlane.Sources.Tests.Folder;
using Xunit.Abstractions;

namespace XdsControlPlane.Sources.Tests.Translation;

/// <summary>
/// The incremental translator against the full one: the example seeds, changed object by object at random (names,
/// namespaces, ports, annotations, ranges, slices, duplicates, deletions, objects without a name, the Seed and the
/// nodeport-proxy Service), fed to one <see cref="IncrementalTranslator"/> as the changes a source would hand over; after
/// every step its result must equal <see cref="InventoryTranslator.Translate"/> of the same objects (seed settings,
/// tenants, failed tenants, diagnostics in order), and every tenant none of whose objects changed must be the same
/// instance as before. The seed is fixed; set XDS_PROPERTY_SEED to the seed a failure prints to replay it.
/// </summary>
public sealed class IncrementalTranslatorPropertyTests(ITestOutputHelper output)
{
    private static readonly string Examples = Path.Combine(ManifestReaderTests.RepositoryRoot(), "envoy-config", "examples");

    private static readonly string[] ServiceNames = ["b", "b-c", "apiserver-external", "konnectivity-server", "a", "nodeport-proxy"];
    private static readonly string[] PortNames = ["x", "c-x", "secure", "", "https"];
    private static readonly int[] NodePorts = [30001, 30002, 31443, 6443, 0, 70000, -1];
    private static readonly string[] Exposes = ["NodePort", "SNI", "SNI,Tunneling", "Tunneling", "true", "bogus", "NodePort,SNI"];
    private static readonly string[] Hostnames = ["a.example.com", "b.example.com", "*.example.com", "bad_host", "A.Example.com"];
    private static readonly string[][] Ranges = [[], ["10.0.0.0/8"], ["bad"], ["203.0.113.0/24", "2001:db8::/32"], ["10.0.0.1/8"]];
    private static readonly string?[] Namespaces = ["cluster-new", "x", "kubermatic", "cluster-", null, "", "default", "cluster-k7x2m9p4qz", "cluster-b5n8w3r6tj", "cluster-kx8m2n4p6q"];
    private static readonly string[] ClusterNames = ["new", "k7x2m9p4qz", "b5n8w3r6tj", "kx8m2n4p6q", "", "zz"];
    private static readonly string[] Addresses = ["10.0.0.1", "2001:db8::1", "bogus", "10.0.0.010", "2001:DB8::2", "10.0.0.2"];
    private static readonly string[] AddressTypes = ["IPv4", "IPv6", "FQDN"];
    private static readonly string[] Strategies = ["NodePort", "Tunneling", "LoadBalancer", "Sideways"];
    private static readonly string[] Policies = ["Local", "Cluster", ""];
    private static readonly string[] KeyPrefixes = ["", "a", "m", "t", "zz"];
    private static readonly (string Key, string? Value)[] SeedAnnotations =
    [
        (Annotations.CloudProvider, "aws"), (Annotations.CloudProvider, "hetzner"), (Annotations.CloudProvider, "nowhere"), (Annotations.CloudProvider, null),
        (Annotations.ProxyProtocol, "true"), (Annotations.ProxyProtocol, null), (Annotations.ProxyProtocolTrustedRanges, "10.0.0.0/8"),
        (Annotations.RbacDelivery, "inline"), (Annotations.RbacDelivery, "sideways"), (Annotations.MaxConnectionDuration, "1h"),
    ];
    private static readonly DateTime[] Created = [new(2023, 1, 1, 0, 0, 0, DateTimeKind.Utc), new(2024, 1, 1, 0, 0, 0, DateTimeKind.Utc)];

    public sealed record Mutation(int Kind, int A, int B, int C)
    {
        public const int Kinds = 22;

        public override string ToString() => $"{(MutationKind)Kind}({A},{B},{C})";
    }

    private enum MutationKind
    {
        RenameService, RenamePort, SetNodePort, SetExpose, SetPortMapping, SetRanges, Duplicate, Delete, SetCreated, SetAddress,
        SetAddressType, MoveNamespace, SetStrategy, RenameCluster, SetSeedAnnotation, SetTrafficPolicy, DropName, SetSliceService,
        RenameSeed, SetAllowlistMode, AddSlice, AddService,
    }

    private static readonly Gen<Mutation> MutationGen =
        Gen.Select(Gen.Int[0, Mutation.Kinds - 1], Gen.Int[0, 1000], Gen.Int[0, 1000], Gen.Int[0, 1000], (k, a, b, c) => new Mutation(k, a, b, c));

    /// <summary>An example, then steps of one to three changes each (a source hands over several at once).</summary>
    private static readonly Gen<(int Example, Mutation[][] Steps)> Sequences = Gen.Select(Gen.Int[0, 1], MutationGen.Array[1, 3].Array[1, 12]);

    [Fact]
    public void IncrementalTranslationEqualsTheFullOneAfterEveryChange()
    {
        string[] examples = ["aws-seed", "hetzner-seed"];
        var worlds = examples.Select(World.Read).ToArray();
        var seed = Environment.GetEnvironmentVariable("XDS_PROPERTY_SEED") is { Length: > 0 } chosen ? chosen : "0000000000000";
        var steps = 0;
        Sequences.Array[150].Sample(batch =>
        {
            foreach (var sequence in batch)
            {
                var description = $"{examples[sequence.Example]}: {string.Join("; ", sequence.Steps.Select(s => string.Join(", ", s.AsEnumerable())))}";
                try
                {
                    var world = worlds[sequence.Example].Copy();
                    var translator = new IncrementalTranslator();
                    translator.Apply(world.Objects.Select(o => new ObjectChange(o.Key, o.Value)));
                    var previous = Check(translator, world, null, [], "initial");
                    foreach (var step in sequence.Steps)
                    {
                        var changed = new Dictionary<string, object?>(StringComparer.Ordinal);
                        var touched = new HashSet<string>(StringComparer.Ordinal);
                        foreach (var mutation in step)
                        {
                            foreach (var (key, old, now) in world.Apply(mutation))
                            {
                                changed[key] = now;
                                touched.UnionWith(TenantsOf(old));
                                touched.UnionWith(TenantsOf(now));
                            }
                        }
                        translator.Apply(changed.Select(c => new ObjectChange(c.Key, c.Value)));
                        previous = Check(translator, world, previous, touched, string.Join(", ", step.AsEnumerable()));
                        steps++;
                    }
                }
                catch (Exception e)
                {
                    throw new InvalidOperationException($"sequence {description} failed: {e.Message}", e);
                }
            }
        }, writeLine: output.WriteLine, seed: seed, iter: 1, threads: 1, print: _ => $"XDS_PROPERTY_SEED={seed}");
        output.WriteLine($"{steps} steps checked");
    }

    [Fact]
    public void AnUnchangedTenantIsHandedOverAsTheSameInstanceAndAnEqualRetranslationToo()
    {
        var world = World.Read("aws-seed");
        var translator = new IncrementalTranslator();
        translator.Apply(world.Objects.Select(o => new ObjectChange(o.Key, o.Value)));
        var first = translator.Translate();
        Assert.True(first.Tenants.Count >= 2);

        // The same Cluster object again, as a new instance (a re-list, a file saved without changes): same tenant instance.
        var (key, cluster) = world.Objects.First(o => o.Value is KkpCluster);
        translator.Apply(new ObjectChange(key, World.Clone(cluster)));
        var second = translator.Translate();
        Assert.Empty(translator.ChangedTenants);
        Assert.Equal(first.Tenants.Count, second.Tenants.Count);
        for (var i = 0; i < first.Tenants.Count; i++)
        {
            Assert.Same(first.Tenants[i], second.Tenants[i]);
        }
        Assert.Same(first.Tenants, second.Tenants);
    }

    [Fact]
    public void AnObjectOfAnotherKindIsRefusedWithItsKey()
    {
        var translator = new IncrementalTranslator();
        var e = Assert.Throws<ArgumentException>(() => translator.Apply(new ObjectChange("ns/cm", new V1ConfigMap())));
        Assert.Contains("ns/cm", e.Message, StringComparison.Ordinal);
    }

    private static TranslationResult Check(IncrementalTranslator translator, World world, TranslationResult? previous, HashSet<string> touched, string step)
    {
        var incremental = translator.Translate();
        var full = InventoryTranslator.Translate(world.ToInventory());
        Assert.True(Equals(full.Seed, incremental.Seed), $"{step}: seed settings differ: {full.Seed} / {incremental.Seed}");
        Assert.Equal(full.Tenants.Select(t => t.Id), incremental.Tenants.Select(t => t.Id));
        for (var i = 0; i < full.Tenants.Count; i++)
        {
            Assert.True(full.Tenants[i].Equals(incremental.Tenants[i]), $"{step}: tenant {full.Tenants[i].Id} differs");
        }
        Assert.Equal(full.FailedTenants.Order(StringComparer.Ordinal), incremental.FailedTenants.Order(StringComparer.Ordinal));
        Assert.Equal(full.Diagnostics.Select(d => d.ToString()), incremental.Diagnostics.Select(d => d.ToString()));
        Assert.Equal(full.Diagnostics, incremental.Diagnostics);
        if (previous is not null)
        {
            var before = previous.Tenants.ToDictionary(t => t.Id, StringComparer.Ordinal);
            foreach (var tenant in incremental.Tenants)
            {
                if (!touched.Contains(tenant.Id) && before.TryGetValue(tenant.Id, out var old))
                {
                    Assert.True(ReferenceEquals(old, tenant), $"{step}: untouched tenant {tenant.Id} is a new instance");
                }
            }
            Assert.All(translator.ChangedTenants, id => Assert.Contains(id, touched));
        }
        return incremental;
    }

    /// <summary>The tenants an object belongs to: its namespace's, or a Cluster's own.</summary>
    private static IEnumerable<string> TenantsOf(object? obj)
    {
        var name = obj switch
        {
            KkpCluster c => c.Metadata?.Name is { Length: > 0 } n ? n : null,
            V1Service s => s.Metadata?.NamespaceProperty is { } ns && InventoryTranslator.TryTenantIdOf(ns, out var id) ? id : null,
            V1EndpointSlice s => s.Metadata?.NamespaceProperty is { } ns && InventoryTranslator.TryTenantIdOf(ns, out var id) ? id : null,
            _ => null,
        };
        return name is null ? [] : [name];
    }

    /// <summary>Objects by key, in inventory order, as a folder source keys them (file, then position in the file).</summary>
    private sealed class World
    {
        public SortedDictionary<string, object> Objects { get; } = new(StringComparer.Ordinal);

        private int _next;

        public static World Read(string example)
        {
            var world = new World();
            var folder = Path.Combine(Examples, example);
            foreach (var file in Directory.EnumerateFiles(folder, "*.yaml").Order(StringComparer.Ordinal))
            {
                var objects = FolderSource.ParseManifests(File.ReadAllText(file));
                for (var i = 0; i < objects.Count; i++)
                {
                    world.Objects[$"{Path.GetFileName(file)}\0{i:D6}"] = objects[i];
                }
            }
            return world;
        }

        public World Copy()
        {
            var copy = new World { _next = _next };
            foreach (var (key, value) in Objects)
            {
                copy.Objects[key] = value;
            }
            return copy;
        }

        public SeedInventory ToInventory() => new(
            [.. Objects.Values.OfType<KkpSeed>()], [.. Objects.Values.OfType<KkpCluster>()],
            [.. Objects.Values.OfType<V1Service>()], [.. Objects.Values.OfType<V1EndpointSlice>()]);

        public static T Clone<T>(T obj) => (T)(object)(obj switch
        {
            KkpSeed o => KubernetesJson.Deserialize<KkpSeed>(KubernetesJson.Serialize(o)),
            KkpCluster o => KubernetesJson.Deserialize<KkpCluster>(KubernetesJson.Serialize(o)),
            V1Service o => KubernetesJson.Deserialize<V1Service>(KubernetesJson.Serialize(o)),
            V1EndpointSlice o => KubernetesJson.Deserialize<V1EndpointSlice>(KubernetesJson.Serialize(o)),
            _ => throw new ArgumentException(obj?.GetType().Name),
        });

        private static T Pick<T>(IList<T> items, int index) => items[index % items.Count];

        private KeyValuePair<string, T>? PickOf<T>(int index)
        {
            var matching = Objects.Where(o => o.Value is T).Select(o => new KeyValuePair<string, T>(o.Key, (T)o.Value)).ToList();
            return matching.Count == 0 ? null : Pick(matching, index);
        }

        /// <summary>Applies one change to copies (objects handed over are never modified); returns what changed at which key.</summary>
        public List<(string Key, object? Old, object? Now)> Apply(Mutation m)
        {
            var result = new List<(string, object?, object?)>();
            void Replace<T>(KeyValuePair<string, T>? picked, Action<T> edit)
                where T : class
            {
                if (picked is not { } p)
                {
                    return;
                }
                var copy = Clone(p.Value);
                edit(copy);
                Objects[p.Key] = copy;
                result.Add((p.Key, p.Value, copy));
            }
            var service = PickOf<V1Service>(m.A);
            var cluster = PickOf<KkpCluster>(m.A);
            var slice = PickOf<V1EndpointSlice>(m.A);
            var seed = PickOf<KkpSeed>(m.A);
            switch ((MutationKind)m.Kind)
            {
                case MutationKind.RenameService:
                    Replace(service, s => s.Metadata.Name = Pick(ServiceNames, m.C));
                    break;
                case MutationKind.RenamePort when service?.Value.Spec?.Ports is { Count: > 0 }:
                    Replace(service, s => Pick(s.Spec.Ports, m.B).Name = Pick(PortNames, m.C));
                    break;
                case MutationKind.SetNodePort when service?.Value.Spec?.Ports is { Count: > 0 }:
                    Replace(service, s =>
                    {
                        Pick(s.Spec.Ports, m.B).NodePort = Pick(NodePorts, m.C);
                        s.Spec.Type = "NodePort";
                    });
                    break;
                case MutationKind.SetExpose:
                    Replace(service, s => (s.Metadata.Annotations ??= new Dictionary<string, string>())[Annotations.DefaultExposeKey] = Pick(Exposes, m.C));
                    break;
                case MutationKind.SetPortMapping when service?.Value.Spec?.Ports is { Count: > 0 }:
                    Replace(service, s => (s.Metadata.Annotations ??= new Dictionary<string, string>())[Annotations.PortMapping] =
                        $"{{\"{Pick(s.Spec.Ports, m.B).Name}\":\"{Pick(Hostnames, m.C)}\"}}");
                    break;
                case MutationKind.SetRanges:
                    Replace(cluster, c => (c.Spec ??= new KkpClusterSpec()).ApiServerAllowedIPRanges = new KkpNetworkRanges { CidrBlocks = [.. Pick(Ranges, m.C)] });
                    break;
                case MutationKind.Duplicate when Objects.Count > 0:
                    var (fromKey, from) = Pick(Objects.ToList(), m.A);
                    var copy = Clone(from);
                    if (copy is V1Service or V1EndpointSlice && ((IKubernetesObject<V1ObjectMeta>)copy).Metadata is { } meta && m.B % 2 == 0)
                    {
                        meta.NamespaceProperty = Pick(Namespaces, m.C);
                    }
                    // Before or after the original in inventory order: the order decides between duplicates.
                    var key = $"{Pick(KeyPrefixes, m.B)}{fromKey}#{_next++}";
                    Objects[key] = copy;
                    result.Add((key, null, copy));
                    break;
                case MutationKind.Delete when Objects.Count > 0:
                    var (deleted, old) = Pick(Objects.ToList(), m.A);
                    Objects.Remove(deleted);
                    result.Add((deleted, old, null));
                    break;
                case MutationKind.SetCreated:
                    Replace(service, s => s.Metadata.CreationTimestamp = Pick(Created, m.C));
                    break;
                case MutationKind.SetAddress when slice?.Value.Endpoints is { Count: > 0 }:
                    Replace(slice, s => Pick(s.Endpoints, m.B).Addresses = [Pick(Addresses, m.C)]);
                    break;
                case MutationKind.SetAddressType:
                    Replace(slice, s => s.AddressType = Pick(AddressTypes, m.C));
                    break;
                case MutationKind.MoveNamespace when m.B % 2 == 0:
                    Replace(service, s => s.Metadata.NamespaceProperty = Pick(Namespaces, m.C));
                    break;
                case MutationKind.MoveNamespace:
                    Replace(slice, s => s.Metadata.NamespaceProperty = Pick(Namespaces, m.C));
                    break;
                case MutationKind.SetStrategy:
                    Replace(cluster, c => (c.Spec ??= new KkpClusterSpec()).ExposeStrategy = Pick(Strategies, m.C));
                    break;
                case MutationKind.RenameCluster:
                    Replace(cluster, c => c.Metadata.Name = Pick(ClusterNames, m.C));
                    break;
                case MutationKind.SetSeedAnnotation:
                    Replace(seed, s =>
                    {
                        var (name, value) = Pick(SeedAnnotations, m.C);
                        s.Metadata.Annotations ??= new Dictionary<string, string>();
                        if (value is null)
                        {
                            s.Metadata.Annotations.Remove(name);
                        }
                        else
                        {
                            s.Metadata.Annotations[name] = value;
                        }
                    });
                    break;
                case MutationKind.SetTrafficPolicy:
                    Replace(service, s =>
                    {
                        s.Metadata.Name = "nodeport-proxy";
                        s.Metadata.NamespaceProperty = m.B % 3 == 0 ? null : "kubermatic";
                        (s.Spec ??= new V1ServiceSpec()).ExternalTrafficPolicy = Pick(Policies, m.C);
                    });
                    break;
                case MutationKind.DropName when Objects.Count > 0:
                    var (unnamedKey, named) = Pick(Objects.ToList(), m.A);
                    Replace<object>(new KeyValuePair<string, object>(unnamedKey, named), o =>
                    {
                        if (((IKubernetesObject<V1ObjectMeta>)o).Metadata is { } meta)
                        {
                            meta.Name = m.C % 2 == 0 ? null : "";
                        }
                    });
                    break;
                case MutationKind.SetSliceService:
                    Replace(slice, s => (s.Metadata.Labels ??= new Dictionary<string, string>())[Annotations.ServiceNameLabel] = Pick(ServiceNames, m.C));
                    break;
                case MutationKind.RenameSeed:
                    Replace(seed, s => s.Metadata.Name = m.C % 3 == 0 ? "other" : "kubermatic");
                    break;
                case MutationKind.AddSlice when slice is not null:
                case MutationKind.AddService when service is not null:
                    // A new object in another tenant's namespace (or the same), placed anywhere in inventory order.
                    object added = (MutationKind)m.Kind == MutationKind.AddSlice && slice is { } s1 ? Clone(s1.Value) : Clone(service!.Value.Value);
                    var addedMeta = ((IKubernetesObject<V1ObjectMeta>)added).Metadata;
                    addedMeta.NamespaceProperty = Pick(Namespaces, m.B);
                    addedMeta.Name = $"{addedMeta.Name}-{m.C % 3}";
                    if (added is V1EndpointSlice { Endpoints.Count: > 0 } addedSlice)
                    {
                        addedSlice.Endpoints[0].Addresses = [Pick(Addresses, m.C)];
                    }
                    var addedKey = $"{Pick(KeyPrefixes, m.C)}new#{_next++}";
                    Objects[addedKey] = added;
                    result.Add((addedKey, null, added));
                    break;
                case MutationKind.SetAllowlistMode:
                    Replace(cluster, c => (c.Metadata.Annotations ??= new Dictionary<string, string>())[Annotations.AllowlistMode] =
                        Pick(new[] { "enforce", "dry-run", "maybe" }, m.C));
                    break;
            }
            return result;
        }
    }
}
