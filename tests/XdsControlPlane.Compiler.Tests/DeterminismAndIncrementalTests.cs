using Google.Protobuf;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Compiler.Tests;

public sealed class DeterminismAndIncrementalTests
{
    private static readonly string Example = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed");

    private static SeedInventory LoadExample()
    {
        var load = new FolderSource(Example, Microsoft.Extensions.Logging.Abstractions.NullLogger<FolderSource>.Instance).Load();
        Assert.NotNull(load.Inventory);
        return load.Inventory;
    }

    private static void AssertSameBytes(Snapshot a, Snapshot b)
    {
        Assert.Equal(a.Version, b.Version);
        foreach (var typeUrl in TypeUrls.PushOrder)
        {
            var left = a.Get(typeUrl).Resources;
            var right = b.Get(typeUrl).Resources;
            Assert.Equal(left.Keys, right.Keys);
            foreach (var (name, resource) in left)
            {
                Assert.Equal(resource.Version, right[name].Version);
                Assert.True(resource.Bytes.Equals(right[name].Bytes), $"{typeUrl} {name} differs");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SharedListenersAssembledFromTheirPartsAreByteIdenticalToTheirMessages(bool proxyProtocol)
    {
        // The SNI listener is assembled from its chains' bytes; it must be exactly the canonical encoding of
        // the whole message, or versions and config dumps would describe something else than what is sent.
        var compiled = new TestPipeline().Apply(LoadExample()).Current!;
        var seed = compiled.Model.Seed with { ProxyProtocol = proxyProtocol };
        var chains = compiled.Tenants.Values.SelectMany(a => a.SniChains).ToList();
        Assert.True(chains.Count >= 2);
        var assembled = SharedListeners.SniListenerBytes(seed, chains);
        Assert.True(ExpectedMessages.SniListener(seed, chains).ToByteString().Equals(assembled));
        var served = compiled.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener];
        // ECDS resources are written with the config serialised in place: the canonical encoding of what they hold.
        foreach (var (name, extension) in compiled.Snapshot.Get(TypeUrls.ExtensionConfig).Resources)
        {
            var parsed = Envoy.Config.Core.V3.TypedExtensionConfig.Parser.ParseFrom(extension.Bytes);
            Assert.Equal(name, parsed.Name);
            Assert.True(parsed.ToByteString().Equals(extension.Bytes), name);
            Assert.True(new Envoy.Config.Core.V3.TypedExtensionConfig { Name = name, TypedConfig = Google.Protobuf.WellKnownTypes.Any.Pack(
                parsed.TypedConfig.Unpack<Envoy.Extensions.Filters.Network.Rbac.V3.RBAC>()) }.ToByteString().Equals(extension.Bytes), name);
        }
        // Endpoints are written field by field: byte-identical to the message, one locality per zone in zone order, each
        // with its endpoint count as weight, including ports with no endpoint and endpoints given out of zone order.
        var zoned = new ExposedPort
        {
            Name = "z",
            Port = 1,
            Endpoints = ValueList.From([new UpstreamEndpoint("10.0.0.3", 80, "zone-b", "n3"), new UpstreamEndpoint("10.0.0.1", 80, "", "n1"),
                new UpstreamEndpoint("10.0.0.2", 80, "zone-a", "n2"), new UpstreamEndpoint("10.0.0.4", 80, "zone-b", "n4")]),
        };
        foreach (var port in compiled.Model.Tenants.SelectMany(t => t.Services).SelectMany(svc => svc.Ports.Select(p => (Key: $"{svc.Namespace}/{svc.Name}-{p.Name}", Port: p)))
            .Append((Key: "empty", Port: new ExposedPort { Name = "x", Port = 1 }))
            .Append((Key: "zoned", Port: zoned)))
        {
            var expected = new Envoy.Config.Endpoint.V3.ClusterLoadAssignment { ClusterName = port.Key };
            foreach (var zone in port.Port.Endpoints.GroupBy(e => e.Zone).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                var locality = new Envoy.Config.Endpoint.V3.LocalityLbEndpoints
                {
                    Locality = new Envoy.Config.Core.V3.Locality { Zone = zone.Key },
                    LoadBalancingWeight = (uint)zone.Count(),
                };
                locality.LbEndpoints.AddRange(zone.OrderBy(e => e.Address, StringComparer.Ordinal).Select(e => new Envoy.Config.Endpoint.V3.LbEndpoint
                {
                    Endpoint = new Envoy.Config.Endpoint.V3.Endpoint { Address = ExpectedMessages.SocketAddress(e.Address, e.Port) },
                }));
                expected.Endpoints.Add(locality);
            }
            Assert.True(expected.ToByteString().Equals(TenantCompiler.LoadAssignmentBytes(port.Key, port.Port)), port.Key);
        }
        Assert.Equal(["", "zone-a", "zone-b"], Envoy.Config.Endpoint.V3.ClusterLoadAssignment.Parser
            .ParseFrom(TenantCompiler.LoadAssignmentBytes("zoned", zoned)).Endpoints.Select(l => l.Locality.Zone));
        // Clusters are written field by field: byte-identical to the message, for either config source.
        foreach (var (name, cluster) in compiled.Snapshot.Get(TypeUrls.Cluster).Resources.Where(c => c.Key != EnvoyNames.StatsCluster))
        {
            foreach (var style in new[] { ConfigSourceStyle.Ads, ConfigSourceStyle.Grpc })
            {
                var styled = seed with { ConfigSource = style };
                Assert.True(ExpectedMessages.Cluster(name, styled).ToByteString().Equals(TenantCompiler.ClusterBytes(name, styled)), name);
            }
            Assert.True(ExpectedMessages.Cluster(name, compiled.Model.Seed).ToByteString().Equals(cluster.Bytes), name);
        }
        var stats = compiled.Snapshot.Get(TypeUrls.Cluster).Resources[EnvoyNames.StatsCluster];
        Assert.True(ExpectedMessages.StatsCluster(compiled.Model.Seed).ToByteString().Equals(stats.Bytes));
        Assert.True(ExpectedMessages.StatsListener(compiled.Model.Seed).ToByteString()
            .Equals(compiled.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.StatsListener].Bytes));
        Assert.True(ExpectedMessages.SniListener(compiled.Model.Seed, chains).ToByteString().Equals(served.Bytes));
        Assert.Equal(chains.Count, ((Envoy.Config.Listener.V3.Listener)served.Message).FilterChains.Count);
        // Its references come from its chains (no parse of the whole): the same as reading the whole.
        var fromParts = ResourceReferences.Of(served);
        var fromWhole = ResourceReferences.Of(new EnvoyResource("read-whole", served.Message));
        Assert.Equal(fromWhole.Clusters.Order(StringComparer.Ordinal), fromParts.Clusters.Order(StringComparer.Ordinal));
        Assert.Equal(fromWhole.DiscoveredFilters.Select(f => f.Name), fromParts.DiscoveredFilters.Select(f => f.Name));
        Assert.Equal(fromWhole.DiscoveredFilters.Select(f => string.Join(",", f.TypeUrls) + f.DefaultTypeUrl + f.Listener),
            fromParts.DiscoveredFilters.Select(f => string.Join(",", f.TypeUrls) + f.DefaultTypeUrl + f.Listener));
        Assert.NotEmpty(fromParts.Clusters);
        // The tunneling listener holds no scope (they come by SRDS): it is the seed's alone, and each scope,
        // written field by field, is byte-identical to the message and names its namespace's route configuration.
        var tunneling = compiled.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.TunnelingListener];
        Assert.True(ExpectedMessages.TunnelingListener(compiled.Model.Seed).ToByteString().Equals(tunneling.Bytes));
        foreach (var style in new[] { ConfigSourceStyle.Ads, ConfigSourceStyle.Grpc })
        {
            var styled = seed with { ConfigSource = style };
            Assert.True(ExpectedMessages.TunnelingListener(styled).ToByteString().Equals(SharedListeners.TunnelingListener(styled)), $"{style}");
        }
        Assert.Empty(ResourceReferences.Of(tunneling).RouteConfigs);
        var scopes = compiled.Snapshot.Get(TypeUrls.ScopedRoute).Resources;
        Assert.NotEmpty(scopes);
        foreach (var (name, scope) in scopes)
        {
            var ns = name[(EnvoyNames.TunnelingRoute.Length + 1)..];
            var expected = new Envoy.Config.Route.V3.ScopedRouteConfiguration
            {
                Name = name,
                RouteConfigurationName = EnvoyNames.TunnelingRouteFor(ns),
                Key = new() { Fragments = { new Envoy.Config.Route.V3.ScopedRouteConfiguration.Types.Key.Types.Fragment { StringKey = ns } } },
            };
            Assert.True(expected.ToByteString().Equals(scope.Bytes), name);
            Assert.Equal([(name, EnvoyNames.TunnelingRouteFor(ns))], ResourceReferences.Of(scope).RouteConfigs);
        }
    }

    [Fact]
    public void SameInputInAnyOrderGivesByteIdenticalResources()
    {
        var inventory = LoadExample();
        var first = new TestPipeline().Apply(inventory).Current!;
        var random = new Random(7);
        var shuffled = new SeedInventory(
            inventory.Seeds.Reverse().ToList(),
            inventory.Clusters.OrderBy(_ => random.Next()).ToList(),
            inventory.Services.OrderBy(_ => random.Next()).ToList(),
            inventory.EndpointSlices.OrderBy(_ => random.Next()).ToList());
        var second = new TestPipeline().Apply(shuffled).Current!;
        AssertSameBytes(first.Snapshot, second.Snapshot);
        Assert.True(first.Snapshot.Get(TypeUrls.Listener).Resources.Count >= 4);
    }

    /// <remarks>
    /// Inline delivery: the result is a function of the model alone. With ECDS the revocation generation
    /// also depends on history (a widening keeps it, a fresh compile derives it from the list), so there the
    /// property is checked by <see cref="RevocationTests"/> instead.
    /// </remarks>
    [Fact]
    public void AChangedTenantIsRecompiledAloneAndTheResultEqualsAFullCompile()
    {
        var inventory = LoadExample();
        var translated = InventoryTranslator.Translate(inventory);
        var model = new SeedModel(translated.Seed! with { RbacDelivery = RbacDelivery.Inline }, translated.Tenants);
        var before = SeedCompiler.Compile(model);

        var changedTenants = model.Tenants.Select(t => t.Id == "k7x2m9p4qz"
            ? t with { AllowedRanges = t.AllowedRanges.Append(XdsControlPlane.Cidr.CidrRange.Parse("100.64.0.0/10")).ToValueList() }
            : t).ToValueList();
        var changed = model with { Tenants = changedTenants };
        var incremental = SeedCompiler.Compile(changed, before);
        var scratch = SeedCompiler.Compile(changed);

        Assert.Equal(1, incremental.RecompiledTenants);
        AssertSameBytes(scratch.Snapshot, incremental.Snapshot);
        Assert.NotEqual(before.Snapshot.Get(TypeUrls.Listener).Version, incremental.Snapshot.Get(TypeUrls.Listener).Version);
        // Only listeners changed: clusters and endpoints keep their versions, so Envoy gets no CDS/EDS push.
        Assert.Equal(before.Snapshot.Get(TypeUrls.Cluster).Version, incremental.Snapshot.Get(TypeUrls.Cluster).Version);
        Assert.Equal(before.Snapshot.Get(TypeUrls.Endpoint).Version, incremental.Snapshot.Get(TypeUrls.Endpoint).Version);
    }

    [Fact]
    public void RemovingATenantRemovesItsResourcesIncrementally()
    {
        var translated = InventoryTranslator.Translate(LoadExample());
        var model = new SeedModel(translated.Seed!, translated.Tenants);
        var before = SeedCompiler.Compile(model);
        var without = model with { Tenants = model.Tenants.Where(t => t.Id != "b5n8w3r6tj").ToValueList() };
        var incremental = SeedCompiler.Compile(without, before);
        Assert.Equal(0, incremental.RecompiledTenants);
        AssertSameBytes(SeedCompiler.Compile(without).Snapshot, incremental.Snapshot);
        Assert.DoesNotContain(incremental.Snapshot.Get(TypeUrls.Listener).Resources.Keys, k => k.Contains("b5n8w3r6tj", StringComparison.Ordinal));
    }

    [Fact]
    public void ADerivedSetKnowsWhatChangedSinceExactlyTheSetItCameFrom()
    {
        // Every SotW stream holding the previous set sends exactly these (shared) resources, without a compare.
        static EnvoyResource Cluster(string name, uint seconds) =>
            new(name, new Envoy.Config.Cluster.V3.Cluster { Name = name, ConnectTimeout = new Google.Protobuf.WellKnownTypes.Duration { Seconds = seconds } });
        var first = new ResourceSet(TypeUrls.Cluster, [Cluster("a", 1), Cluster("b", 1), Cluster("c", 1)]);
        var changedB = Cluster("b", 2);
        var second = first.With([Cluster("a", 1), changedB, Cluster("d", 1)], ["c"]);
        Assert.True(second.TryGetChangedSince(first.Resources, out var changed));
        Assert.Equal(["b", "d"], changed.Select(r => r.Name).Order());
        Assert.Same(changedB, changed.Single(r => r.Name == "b"));
        // Not derived from these: unknown, so a stream compares resource by resource.
        Assert.False(second.TryGetChangedSince(second.Resources, out _));
        Assert.False(second.With([Cluster("e", 1)], []).TryGetChangedSince(first.Resources, out _));
        Assert.False(first.TryGetChangedSince(first.Resources, out _));
        // No change at all is the same set, not a derived one.
        Assert.Same(second, second.With([Cluster("a", 1)], []));
        // Removed and added back in one change: changed, not also removed (a delta response must not carry both).
        var readded = Cluster("a", 3);
        var third = second.With([readded], ["a", "d"]);
        Assert.True(third.TryGetChangedSince(second.Resources, out var changedAgain, out var removedAgain));
        Assert.Equal([readded], changedAgain);
        Assert.Equal(["d"], removedAgain);
    }

    [Fact]
    public void ASetRefusesTwoResourcesUnderOneName()
    {
        static EnvoyResource Cluster(string name, uint seconds) =>
            new(name, new Envoy.Config.Cluster.V3.Cluster { Name = name, ConnectTimeout = new Google.Protobuf.WellKnownTypes.Duration { Seconds = seconds } });
        var a = Cluster("a", 1);

        var different = Assert.Throws<ArgumentException>(() => new ResourceSet(TypeUrls.Cluster, [a, Cluster("b", 1), Cluster("a", 2)]));
        Assert.Contains("'a'", different.Message, StringComparison.Ordinal);
        // Equal content under one name is still two resources: refused too, so no digest counts one twice.
        Assert.Throws<ArgumentException>(() => new ResourceSet(TypeUrls.Cluster, [a, Cluster("a", 1)]));
        Assert.Throws<ArgumentException>(() => new ResourceSet(TypeUrls.Cluster, [a, a]));
    }

    [Fact]
    public void ResourceVersionsAreContentHashesStableAcrossProcesses()
    {
        // A fixed expectation: if this changes, every Envoy reconnecting after an upgrade gets a full push.
        var set = new ResourceSet(TypeUrls.Cluster, [new EnvoyResource("a", new Envoy.Config.Cluster.V3.Cluster { Name = "a" })]);
        Assert.Equal(ContentHash.Of(new Envoy.Config.Cluster.V3.Cluster { Name = "a" }.ToByteArray()), set.Resources["a"].Version);
        Assert.Equal(16, set.Version.Length);
        var same = ResourceSet.Empty(TypeUrls.Cluster).With([new EnvoyResource("a", new Envoy.Config.Cluster.V3.Cluster { Name = "a" })], []);
        Assert.Equal(set.Version, same.Version);
    }
}
