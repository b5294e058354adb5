using Envoy.Config.Listener.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// ECDS delivery: a widening re-sends only the tenant's TypedExtensionConfig; a narrowing changes that tenant's
/// own chains and NodePort listeners (so Envoy drains exactly those) and nothing of any other tenant; replicas
/// with different histories converge. (Which connections are capped: ConnectionsTests.)
/// </summary>
public sealed class RevocationTests
{
    private const string Sni = "k7x2m9p4qz";     // Tunneling strategy: SNI chain + CONNECT virtual host
    private const string NodePort = "b5n8w3r6tj"; // NodePort strategy: one listener per port
    private static readonly string Example = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed");

    private static SeedModel Model()
    {
        var load = new FolderSource(Example, Microsoft.Extensions.Logging.Abstractions.NullLogger<FolderSource>.Instance).Load();
        var translated = InventoryTranslator.Translate(load.Inventory!);
        Assert.Equal(RbacDelivery.Ecds, translated.Seed!.RbacDelivery); // the default
        return new SeedModel(translated.Seed!, translated.Tenants);
    }

    private static SeedModel WithRanges(SeedModel model, string tenantId, params string[] ranges) => model with
    {
        Tenants = model.Tenants.Select(t => t.Id == tenantId ? t with { AllowedRanges = ranges.Select(CidrRange.Parse).ToValueList() } : t).ToValueList(),
    };

    private static string[] RangesOf(SeedModel model, string tenantId) =>
        model.Tenants.Single(t => t.Id == tenantId).AllowedRanges.Select(r => r.ToString()).ToArray();

    private static Dictionary<string, string> ChainHashes(CompiledSeed compiled) =>
        compiled.Tenants.Values.SelectMany(a => a.SniChains.Select(c => (Key: $"{a.Tenant.Id}:{c.Name}", c.Hash))).ToDictionary(x => x.Key, x => x.Hash);

    private static Dictionary<string, string> Versions(CompiledSeed compiled, string typeUrl) =>
        compiled.Snapshot.Get(typeUrl).Resources.ToDictionary(r => r.Key, r => r.Value.Version);

    private static bool Mentions(string name, string tenantId) => name.Contains(tenantId, StringComparison.Ordinal);

    [Theory]
    [InlineData(false, "10.0.0.0/8", "2001:db8::/32", "192.0.2.0/24")]
    [InlineData(true, "10.0.0.0/8")]
    [InlineData(false)]
    public void GenerationIsSha256OfTheAdmissionKeyHashedWithoutBuildingIt(bool proxyProtocol, params string[] ranges)
    {
        // The generation names Envoy config: it must not change when the way it is computed does.
        var seed = new SeedSettings
        {
            Name = "s",
            Provider = CloudProvider.Aws,
            ProxyProtocol = proxyProtocol,
            ProxyProtocolTrustedRanges = proxyProtocol ? ValueList.From([CidrRange.Parse("198.51.100.0/24"), CidrRange.Parse("2001:db8:1::/48")]) : ValueList<CidrRange>.Empty,
        };
        var set = CidrSet.Build(ranges.Select(CidrRange.Parse));
        var admission = new Admission(ranges.Length == 0, set, proxyProtocol ? "pp:198.51.100.0/24,2001:db8:1::/48" : "direct");
        var previous = new Admission(false, CidrSet.Build([CidrRange.Parse("0.0.0.0/0")]), "direct");
        static string Sha(string text) =>
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..8];

        Assert.Equal(Sha(admission.Key), Revocation.Fresh(admission));
        Assert.Equal(Sha(admission.Key + "\0after\0" + previous.Key), Revocation.Hash(admission, previous));
        Assert.Equal(admission.Key, Admission.Of(new AllowlistDecision(ranges.Length == 0 ? Enforcement.Unrestricted
            : proxyProtocol ? Enforcement.EnforcedProxyProtocol : Enforcement.EnforcedDirect, RangeForm.Principals, set, "r"), seed).Key);
    }

    [Fact]
    public void AProxyListCoveringTheLoadBalancerGetsANewGenerationSoTheUpgradeDrainsItsRelayedConnections()
    {
        var seed = new SeedSettings
        {
            Name = "s",
            Provider = CloudProvider.Hetzner,
            ProxyProtocol = true,
            ProxyProtocolTrustedRanges = ValueList.From([CidrRange.Parse("10.20.0.0/16")]),
        };
        Admission Of(params string[] ranges) => Admission.Of(new AllowlistDecision(Enforcement.EnforcedProxyProtocol, RangeForm.Principals,
            CidrSet.Build(ranges.Select(CidrRange.Parse)), "r"), seed);
        static string Sha(string text) =>
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..8];
        var covering = Of("10.0.0.0/8");
        var inside = Of("10.20.3.0/24");
        var beside = Of("192.0.2.0/24");

        // The generations earlier releases gave these admissions (their key had no mark): the one whose admitted set
        // shrank (relayed clients outside the list are no longer admitted) is renamed, so Envoy drains its chains.
        Assert.NotEqual(Sha("pp:10.20.0.0/16|10.0.0.0/8"), Revocation.Fresh(covering));
        Assert.NotEqual(Sha("pp:10.20.0.0/16|10.20.3.0/24"), Revocation.Fresh(inside));
        Assert.Equal(Sha("pp:10.20.0.0/16|192.0.2.0/24"), Revocation.Fresh(beside));
        // Under the current rule, widening a list until it covers the load balancer is still a widening: no rename.
        var wider = Of("192.0.2.0/24", "10.0.0.0/8");
        Assert.True(wider.Covers(beside));
        var generation = Revocation.Fresh(beside);
        Assert.Equal((generation, false), Revocation.Next(generation, beside, wider, previouslyOwed: false, drainNow: true));
    }

    [Fact]
    public void GenerationOfAListLongerThanTheKeyBufferIsStillSha256OfTheKey()
    {
        // 600 disjoint IPv6 ranges: a key of some 11 KB, several times the per-thread buffer's first size.
        var set = CidrSet.Build(Enumerable.Range(0, 600).Select(i => CidrRange.Parse($"2001:db8:{2 * i:x}::/48")));
        var admission = new Admission(false, set, "direct");
        var after = new Admission(false, CidrSet.Build([CidrRange.Parse("10.0.0.0/8")]), "direct");
        static string Sha(string text) =>
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)))[..8];

        Assert.True(admission.Key.Length > 4096);
        Assert.Equal(Sha(admission.Key), Revocation.Fresh(admission));
        Assert.Equal(Sha(admission.Key + "\0after\0" + after.Key), Revocation.Hash(admission, after));
        Assert.Equal(Sha(after.Key + "\0after\0" + admission.Key), Revocation.Hash(after, admission));
    }

    [Fact]
    public void WideningChangesOnlyTheTenantsTypedExtensionConfig()
    {
        var model = Model();
        var before = SeedCompiler.Compile(model);
        var wider = WithRanges(model, Sni, [.. RangesOf(model, Sni), "100.64.0.0/10"]);
        var after = SeedCompiler.Compile(wider, before);

        // No LDS, CDS or EDS push: sni_listener and every chain are untouched.
        foreach (var type in new[] { TypeUrls.Listener, TypeUrls.Cluster, TypeUrls.Endpoint })
        {
            Assert.Equal(before.Snapshot.Get(type).Version, after.Snapshot.Get(type).Version);
        }
        Assert.Equal(ChainHashes(before), ChainHashes(after));
        // The tunneling path's HTTP RBAC is per virtual host in the tenant's own RouteConfiguration (RDS): only
        // that small resource changes, no other tenant's routes and not the tunneling listener.
        AssertOnlyTenantRoutesChanged(before, after, Sni);
        var ecdsBefore = Versions(before, TypeUrls.ExtensionConfig);
        var ecdsAfter = Versions(after, TypeUrls.ExtensionConfig);
        Assert.Equal(ecdsBefore.Keys, ecdsAfter.Keys); // same names: Envoy updates the filter in place
        var changed = ecdsAfter.Where(e => ecdsBefore[e.Key] != e.Value).Select(e => e.Key).ToList();
        Assert.Equal([$"rbac.tenant.{Sni}.sni.r{before.Tenants[Sni].RevocationGeneration}"], changed);
        // ... and it really admits the new range for new connections.
        Assert.True(RbacEvaluator.Allows(RbacEvaluator.SniRbac(after.Snapshot, SniHost(after)), System.Net.IPAddress.Parse("100.64.1.1")));
        Assert.False(RbacEvaluator.Allows(RbacEvaluator.SniRbac(before.Snapshot, SniHost(before)), System.Net.IPAddress.Parse("100.64.1.1")));
    }

    [Fact]
    public void NarrowingChangesExactlyThatTenantsChainAndNothingOfOtherTenants()
    {
        var model = Model();
        var before = SeedCompiler.Compile(model);
        var narrower = WithRanges(model, Sni, RangesOf(model, Sni)[0]);
        var after = SeedCompiler.Compile(narrower, before);

        var chainsBefore = ChainHashes(before);
        var chainsAfter = ChainHashes(after);
        Assert.Equal(chainsBefore.Keys, chainsAfter.Keys);
        var changedChains = chainsAfter.Where(c => chainsBefore[c.Key] != c.Value).Select(c => c.Key).ToList();
        Assert.NotEmpty(changedChains);
        Assert.All(changedChains, c => Assert.StartsWith(Sni + ":", c));
        Assert.All(chainsAfter.Where(c => !c.Key.StartsWith(Sni + ":", StringComparison.Ordinal)), c => Assert.Equal(chainsBefore[c.Key], c.Value));
        Assert.NotEqual(before.Tenants[Sni].RevocationGeneration, after.Tenants[Sni].RevocationGeneration);

        // Other tenants' NodePort listeners, all clusters, endpoints and routes: untouched.
        var listenersBefore = Versions(before, TypeUrls.Listener);
        var listenersAfter = Versions(after, TypeUrls.Listener);
        Assert.Equal(
            listenersBefore.Where(l => l.Key != EnvoyNames.SniListener).ToList(),
            listenersAfter.Where(l => l.Key != EnvoyNames.SniListener).ToList());
        foreach (var type in new[] { TypeUrls.Cluster, TypeUrls.Endpoint })
        {
            Assert.Equal(before.Snapshot.Get(type).Version, after.Snapshot.Get(type).Version);
        }
        AssertOnlyTenantRoutesChanged(before, after, Sni);

        // ECDS: the tenant's config is renamed (new generation), every other tenant's is the same resource.
        var ecdsBefore = Versions(before, TypeUrls.ExtensionConfig);
        var ecdsAfter = Versions(after, TypeUrls.ExtensionConfig);
        Assert.Equal(ecdsBefore.Where(e => !Mentions(e.Key, Sni)).ToList(), ecdsAfter.Where(e => !Mentions(e.Key, Sni)).ToList());
        Assert.Single(ecdsAfter.Keys, k => Mentions(k, Sni));
        Assert.DoesNotContain(ecdsAfter.Keys.Single(k => Mentions(k, Sni)), ecdsBefore.Keys);
        Assert.Empty(SnapshotConsistency.Check(after.Snapshot));
    }

    [Fact]
    public void NarrowingANodePortTenantChangesOnlyItsOwnListeners()
    {
        var model = Model();
        var before = SeedCompiler.Compile(model);
        var after = SeedCompiler.Compile(WithRanges(model, NodePort, "198.51.100.0/28"), before);
        var listenersBefore = Versions(before, TypeUrls.Listener);
        var listenersAfter = Versions(after, TypeUrls.Listener);
        var changed = listenersAfter.Where(l => !listenersBefore.TryGetValue(l.Key, out var v) || v != l.Value).Select(l => l.Key).ToList();
        Assert.NotEmpty(changed);
        Assert.All(changed, name => Assert.Contains(NodePort, name));
        Assert.Equal(ChainHashes(before), ChainHashes(after)); // sni_listener untouched
        Assert.Equal(before.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener].Version,
            after.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener].Version);
    }

    [Fact]
    public void WithEcdsAChangeThatLeavesTheListAloneIsStillExactlyAFullCompile()
    {
        var model = Model();
        var before = SeedCompiler.Compile(model);
        var moved = model with
        {
            Tenants = model.Tenants.Select(t => t.Id != Sni ? t : t with
            {
                Services = t.Services.Select((svc, i) => i != 0 ? svc : svc with
                {
                    Ports = svc.Ports.Select(p => p with { Endpoints = ValueList.From([new UpstreamEndpoint("172.25.9.9", 6443)]) }).ToValueList(),
                }).ToValueList(),
            }).ToValueList(),
        };
        var incremental = SeedCompiler.Compile(moved, before);
        Assert.Equal(1, incremental.RecompiledTenants);
        Assert.Equal(SeedCompiler.Compile(moved).Snapshot.Version, incremental.Snapshot.Version);
        Assert.Equal(before.Snapshot.Get(TypeUrls.ExtensionConfig).Version, incremental.Snapshot.Get(TypeUrls.ExtensionConfig).Version);
    }

    [Fact]
    public void ADeferredNarrowingRefusesNewConnectionsAtOnceAndDrainsWhenPaid()
    {
        var model = Model();
        var before = SeedCompiler.Compile(model);
        var kept = RangesOf(model, Sni)[0];
        var removed = System.Net.IPAddress.Parse(RangesOf(model, Sni)[1].Split('/')[0]);
        var narrower = WithRanges(model, Sni, kept);
        var deferred = SeedCompiler.Compile(narrower, before, drainRevocations: false);

        // No LDS push: no chain changed. The narrower list is served at once under the old filter name.
        Assert.Equal(before.Snapshot.Get(TypeUrls.Listener).Version, deferred.Snapshot.Get(TypeUrls.Listener).Version);
        Assert.Equal(ChainHashes(before), ChainHashes(deferred));
        Assert.Equal(Versions(before, TypeUrls.ExtensionConfig).Keys, Versions(deferred, TypeUrls.ExtensionConfig).Keys);
        Assert.True(RbacEvaluator.Allows(RbacEvaluator.SniRbac(before.Snapshot, SniHost(before)), removed));
        Assert.False(RbacEvaluator.Allows(RbacEvaluator.SniRbac(deferred.Snapshot, SniHost(deferred)), removed));
        Assert.Equal([Sni], deferred.OwedRevocations);

        // Widening again does not cancel the drain: connections admitted before the narrowing still run.
        var widened = SeedCompiler.Compile(WithRanges(model, Sni, kept, "100.64.0.0/10"), deferred, drainRevocations: false);
        Assert.Equal([Sni], widened.OwedRevocations);
        Assert.Equal(ChainHashes(before), ChainHashes(widened));

        // Paying the drain (nothing else changed): exactly that tenant's chains are renamed, and nothing is owed.
        var drained = SeedCompiler.Compile(widened.Model, widened, drainRevocations: true);
        Assert.Empty(drained.OwedRevocations);
        Assert.NotEqual(before.Tenants[Sni].RevocationGeneration, drained.Tenants[Sni].RevocationGeneration);
        var chainsAfter = ChainHashes(drained);
        var changedChains = chainsAfter.Where(c => ChainHashes(before)[c.Key] != c.Value).Select(c => c.Key).ToList();
        Assert.NotEmpty(changedChains);
        Assert.All(changedChains, c => Assert.StartsWith(Sni + ":", c));
        Assert.Empty(SnapshotConsistency.Check(drained.Snapshot, widened.Snapshot));
        Assert.Equal(1, drained.RecompiledTenants);

        // The pipeline defers with a delay, and DrainRevocations pays every drain owed in one snapshot.
        var published = new List<Snapshot>();
        var pipeline = new XdsControlPlane.Compiler.Pipeline.ConfigPipeline(s => { published.Add(s); return SnapshotConsistency.Check(s); },
            Microsoft.Extensions.Logging.Abstractions.NullLogger<XdsControlPlane.Compiler.Pipeline.ConfigPipeline>.Instance)
        {
            RevocationDelay = TimeSpan.FromSeconds(5),
        };
        static XdsControlPlane.Compiler.Pipeline.PipelineInput Input(SeedModel m) => new(m.Seed, m.Tenants, new HashSet<string>(), []);
        Assert.True(pipeline.Apply(Input(model)).Applied);
        Assert.Null(pipeline.DrainRevocations());
        Assert.True(pipeline.Apply(Input(narrower)).Applied);
        Assert.NotNull(pipeline.DrainOwedSince);
        Assert.Equal(published[0].Get(TypeUrls.Listener).Version, published[1].Get(TypeUrls.Listener).Version);
        Assert.True(pipeline.DrainRevocations()!.Applied);
        Assert.Null(pipeline.DrainOwedSince);
        Assert.NotEqual(published[1].Get(TypeUrls.Listener).Version, published[2].Get(TypeUrls.Listener).Version);
        Assert.Empty(pipeline.Current!.OwedRevocations);
    }

    [Fact]
    public void WideningThenNarrowingBackRenamesAgain()
    {
        var model = Model();
        var x = SeedCompiler.Compile(model);
        var y = SeedCompiler.Compile(WithRanges(model, Sni, [.. RangesOf(model, Sni), "100.64.0.0/10"]), x);
        Assert.Equal(x.Tenants[Sni].RevocationGeneration, y.Tenants[Sni].RevocationGeneration);
        var backToX = SeedCompiler.Compile(model, y);
        Assert.NotEqual(y.Tenants[Sni].RevocationGeneration, backToX.Tenants[Sni].RevocationGeneration);
        // And once more: the cycle never lands on the generation the live connections were accepted under.
        var y2 = SeedCompiler.Compile(WithRanges(model, Sni, [.. RangesOf(model, Sni), "100.64.0.0/10"]), backToX);
        var x2 = SeedCompiler.Compile(model, y2);
        Assert.NotEqual(y2.Tenants[Sni].RevocationGeneration, x2.Tenants[Sni].RevocationGeneration);
    }

    [Theory]
    [InlineData("list-added")]   // no list (everything admitted) → a list
    [InlineData("dry-run-off")]  // dry run (nothing enforced) → enforce
    public void StartingToEnforceIsANarrowing(string change)
    {
        var model = Model();
        var open = change == "list-added"
            ? WithRanges(model, Sni)
            : model with { Tenants = model.Tenants.Select(t => t.Id == Sni ? t with { AllowlistMode = AllowlistMode.DryRun } : t).ToValueList() };
        var before = SeedCompiler.Compile(open);
        Assert.NotNull(RbacEvaluator.SniRbac(before.Snapshot, SniHost(before))); // ECDS: a filter even when open
        var after = SeedCompiler.Compile(model, before);
        Assert.NotEqual(before.Tenants[Sni].RevocationGeneration, after.Tenants[Sni].RevocationGeneration);
        // The reverse (stop enforcing) is a widening: the generation stays. Only the cap goes (its chain changes
        // for that alone, see ConnectionsTests), no other tenant's chain.
        var reopened = SeedCompiler.Compile(open, after);
        Assert.Equal(after.Tenants[Sni].RevocationGeneration, reopened.Tenants[Sni].RevocationGeneration);
        var changed = ChainHashes(reopened).Where(c => ChainHashes(after)[c.Key] != c.Value).Select(c => c.Key).ToList();
        Assert.All(changed, c => Assert.StartsWith(Sni + ":", c));
    }

    [Fact]
    public void ReplicasWithDifferentHistoriesConvergeAtTheNextNarrowing()
    {
        var model = Model();
        var wide = WithRanges(model, Sni, [.. RangesOf(model, Sni), "100.64.0.0/10"]);
        var narrow = WithRanges(model, Sni, RangesOf(model, Sni)[0]);
        // Replica A saw the list widen; replica B started after the widening.
        var a = SeedCompiler.Compile(wide, SeedCompiler.Compile(model));
        var b = SeedCompiler.Compile(wide);
        Assert.NotEqual(a.Snapshot.Version, b.Snapshot.Version); // the documented divergence: an Envoy moving A→B drains that tenant once
        var a2 = SeedCompiler.Compile(narrow, a);
        var b2 = SeedCompiler.Compile(narrow, b);
        Assert.Equal(a2.Snapshot.Version, b2.Snapshot.Version);
        // A restart with the same content gives the same versions as a replica that compiled it fresh.
        Assert.Equal(SeedCompiler.Compile(narrow).Snapshot.Version, SeedCompiler.Compile(narrow).Snapshot.Version);
    }

    [Theory]
    [InlineData(null, null, 3600)]
    [InlineData("inline", "90m", 5400)]
    [InlineData("ecds", "2h", 7200)]
    [InlineData("ecds", "45s", 45)]
    [InlineData("ecds", "0", 0)]
    [InlineData("ecds", "1h30m", 5400)] // the flags' grammar: one way to write a duration everywhere
    [InlineData("ecds", "3600", 3600)]
    [InlineData("ecds", "720h", 2592000)]
    public void SeedAnnotationsSelectDeliveryAndCap(string? delivery, string? cap, int seconds)
    {
        var yaml = "apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata:\n  name: s\n  annotations:\n    nodeport-proxy.k8s.io/cloud-provider: aws\n"
            + (delivery is null ? "" : $"    nodeport-proxy.k8s.io/rbac-delivery: '{delivery}'\n")
            + (cap is null ? "" : $"    nodeport-proxy.k8s.io/max-connection-duration: '{cap}'\n");
        var seed = TestPipeline.Compile(yaml).Model.Seed;
        Assert.Equal(delivery == "inline" ? RbacDelivery.Inline : RbacDelivery.Ecds, seed.RbacDelivery);
        Assert.Equal(TimeSpan.FromSeconds(seconds), seed.MaxConnectionDuration);
    }

    [Theory]
    [InlineData("1d")]
    [InlineData("-5m")]
    [InlineData("h")]
    [InlineData("31000000s")]
    [InlineData("721h")] // over 30 days
    [InlineData("500ms")] // would end connections before a handshake
    [InlineData("1 h")]
    public void ABadCapRejectsTheSeed(string cap)
    {
        var yaml = "apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata:\n  name: s\n  annotations:\n"
            + $"    nodeport-proxy.k8s.io/max-connection-duration: '{cap}'\n";
        var outcome = new TestPipeline().ApplyYaml(yaml);
        Assert.False(outcome.Applied);
        Assert.Contains(outcome.Diagnostics, d => d.ToString().Contains("max-connection-duration", StringComparison.Ordinal));
    }

    [Fact]
    public void ConsistencyRejectsAMissingOrMistypedExtensionConfig()
    {
        var snapshot = SeedCompiler.Compile(Model()).Snapshot;
        Assert.Empty(SnapshotConsistency.Check(snapshot));
        var extensions = snapshot.Get(TypeUrls.ExtensionConfig);
        var victim = extensions.Resources.Keys.First();
        var missing = new Snapshot(snapshot.ByType.Values.Where(s => s.TypeUrl != TypeUrls.ExtensionConfig).Append(extensions.With([], [victim])));
        Assert.Contains(SnapshotConsistency.Check(missing), p => p.Contains(victim, StringComparison.Ordinal) && p.Contains("no such TypedExtensionConfig", StringComparison.Ordinal));
        var wrongType = new Envoy.Config.Core.V3.TypedExtensionConfig
        {
            Name = victim,
            TypedConfig = Google.Protobuf.WellKnownTypes.Any.Pack(new TcpProxy { StatPrefix = "x", Cluster = "y" }),
        };
        var mistyped = new Snapshot(snapshot.ByType.Values.Where(s => s.TypeUrl != TypeUrls.ExtensionConfig)
            .Append(extensions.With([new EnvoyResource(victim, wrongType)], [])));
        Assert.Contains(SnapshotConsistency.Check(mistyped), p => p.Contains("TcpProxy", StringComparison.Ordinal) && p.Contains("accepts only", StringComparison.Ordinal));
    }

    [Fact]
    public void TheIncrementalConsistencyCheckFindsWhatTheFullCheckFinds()
    {
        // The cache checks a snapshot derived from the served one only where it differs: every way a change can
        // break a reference must still be caught, with the full check's own words.
        var model = Model();
        var accepted = SeedCompiler.Compile(model).Snapshot;
        Assert.Empty(SnapshotConsistency.Check(accepted));
        Snapshot Replace(string typeUrl, IEnumerable<EnvoyResource> upserts, IEnumerable<string> removals) =>
            new(accepted.ByType.Values.Where(s => s.TypeUrl != typeUrl).Append(accepted.Get(typeUrl).With(upserts, removals)));
        var listeners = accepted.Get(TypeUrls.Listener).Resources;
        var usedCluster = ResourceReferences.Of(listeners.Values.First(l => ResourceReferences.Of(l).Clusters.Count > 0)).Clusters[0];
        var extension = accepted.Get(TypeUrls.ExtensionConfig).Resources.Keys.First();
        var route = accepted.Get(TypeUrls.Route).Resources.Keys.First();
        var edsCluster = accepted.Get(TypeUrls.Cluster).Resources.Values.First(c => ResourceReferences.Of(c).EdsServiceName is not null);
        var wrongType = new Envoy.Config.Core.V3.TypedExtensionConfig
        {
            Name = extension,
            TypedConfig = Google.Protobuf.WellKnownTypes.Any.Pack(new TcpProxy { StatPrefix = "x", Cluster = "y" }),
        };
        var sniListener = (Listener)listeners[EnvoyNames.SniListener].Message;
        ((Envoy.Config.Listener.V3.Filter)sniListener.FilterChains[0].Filters.Last()).TypedConfig =
            Google.Protobuf.WellKnownTypes.Any.Pack(new TcpProxy { StatPrefix = "x", Cluster = "nowhere" });

        var broken = new Dictionary<string, Snapshot>
        {
            ["cluster removed"] = Replace(TypeUrls.Cluster, [], [usedCluster]),
            ["endpoints removed"] = Replace(TypeUrls.Endpoint, [], [ResourceReferences.Of(edsCluster).EdsServiceName!]),
            ["route removed"] = Replace(TypeUrls.Route, [], [route]),
            ["extension removed"] = Replace(TypeUrls.ExtensionConfig, [], [extension]),
            ["extension mistyped"] = Replace(TypeUrls.ExtensionConfig, [new EnvoyResource(extension, wrongType)], []),
            ["listener to a missing cluster"] = Replace(TypeUrls.Listener, [new EnvoyResource(EnvoyNames.SniListener, sniListener)], []),
        };
        foreach (var (what, snapshot) in broken)
        {
            var full = SnapshotConsistency.Check(snapshot);
            Assert.NotEmpty(full);
            Assert.Equal(full.Order(StringComparer.Ordinal), SnapshotConsistency.Check(snapshot, accepted).Order(StringComparer.Ordinal));
            Assert.True(full.Count > 0, what);
        }
        // A real change (a narrowing: renamed filter, new chain, old config removed) passes both ways.
        var served = SeedCompiler.Compile(model);
        var narrowed = SeedCompiler.Compile(WithRanges(model, Sni, RangesOf(model, Sni)[0]), served).Snapshot;
        Assert.NotEqual(served.Snapshot.Get(TypeUrls.Listener).Version, narrowed.Get(TypeUrls.Listener).Version);
        Assert.Empty(SnapshotConsistency.Check(narrowed));
        Assert.Empty(SnapshotConsistency.Check(narrowed, served.Snapshot));
    }

    [Fact]
    public void TheIncrementalCheckOfADrainedSniListenerLooksAtTheChangedChainsAndStillFindsWhatTheFullCheckFinds()
    {
        // A drain renames one tenant's chains in the SNI listener (every tenant's chains): the listener says which parts
        // it gained and lost since the one served, and the check's index of who refers to what is derived change by
        // change, so a removed name is still traced to the (unchanged) chain that uses it.
        var model = Model();
        var served = SeedCompiler.Compile(model);
        var narrowed = SeedCompiler.Compile(WithRanges(model, Sni, RangesOf(model, Sni)[0]), served, drainRevocations: false);
        var drained = SeedCompiler.Compile(narrowed.Model, narrowed, drainRevocations: true);
        var before = narrowed.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener];
        var after = drained.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.SniListener];
        Assert.NotEqual(before.Version, after.Version);
        Assert.True(after.Parts!.IsDerivedFrom(before));
        Assert.Equal(drained.Tenants[Sni].SniChains.Count, after.Parts.Added.Count);
        Assert.Equal(narrowed.Tenants[Sni].SniChains.Count, after.Parts.Removed.Count);
        Assert.Equal(after.Parts.All.Count, drained.Tenants.Values.Sum(a => a.SniChains.Count));

        // The served snapshot's index exists (a removal was checked against it), so the drained one's is derived.
        Snapshot Replace(Snapshot basis, string typeUrl, IEnumerable<EnvoyResource> upserts, IEnumerable<string> removals) =>
            new(basis.ByType.Values.Where(s => s.TypeUrl != typeUrl).Append(basis.Get(typeUrl).With(upserts, removals)));
        var someExtension = narrowed.Snapshot.Get(TypeUrls.ExtensionConfig).Resources.Keys.First();
        Assert.NotEmpty(SnapshotConsistency.Check(Replace(narrowed.Snapshot, TypeUrls.ExtensionConfig, [], [someExtension]), narrowed.Snapshot));
        Assert.Empty(SnapshotConsistency.Check(drained.Snapshot, narrowed.Snapshot));

        // From the drained snapshot: remove the renamed filter's config (a chain the drain added), an unchanged tenant's
        // filter config, and a cluster an unchanged chain proxies to; and add a chain to a missing cluster.
        var renamed = drained.Snapshot.Get(TypeUrls.ExtensionConfig).Resources.Keys.Single(k => Mentions(k, Sni)
            && !narrowed.Snapshot.Get(TypeUrls.ExtensionConfig).Resources.ContainsKey(k));
        var other = drained.Tenants.Values.First(a => a.Tenant.Id != Sni && a.SniChains.Count > 0);
        var otherChain = ResourceReferences.OfChain(EnvoyNames.SniListener, other.SniChains[0].Message);
        var otherFilter = otherChain.DiscoveredFilters[0].Name;
        var otherCluster = otherChain.Clusters[0];
        var bogusChain = new FilterChain
        {
            Filters = { new Envoy.Config.Listener.V3.Filter { Name = "tcp", TypedConfig = Google.Protobuf.WellKnownTypes.Any.Pack(new TcpProxy { StatPrefix = "x", Cluster = "nowhere" }) } },
        };
        var withBogus = new EnvoyResource(EnvoyNames.SniListener, Listener.Descriptor, () => after.Bytes, "bogus-version",
            new ResourceParts(() => [.. after.Parts.All, new ResourcePart("bogus", ResourceReferences.OfChain(EnvoyNames.SniListener, bogusChain))])
                .DerivedFrom(after, [new ResourcePart("bogus", ResourceReferences.OfChain(EnvoyNames.SniListener, bogusChain))], []));
        var broken = new Dictionary<string, (Snapshot Snapshot, string Expected)>
        {
            ["renamed config removed"] = (Replace(drained.Snapshot, TypeUrls.ExtensionConfig, [], [renamed]), renamed),
            ["unchanged tenant's config removed"] = (Replace(drained.Snapshot, TypeUrls.ExtensionConfig, [], [otherFilter]), otherFilter),
            ["unchanged chain's cluster removed"] = (Replace(drained.Snapshot, TypeUrls.Cluster, [], [otherCluster]), otherCluster),
            ["added chain to a missing cluster"] = (Replace(drained.Snapshot, TypeUrls.Listener, [withBogus], []), "nowhere"),
        };
        foreach (var (what, (snapshot, expected)) in broken)
        {
            var full = SnapshotConsistency.Check(snapshot);
            Assert.Contains(full, p => p.Contains(expected, StringComparison.Ordinal));
            Assert.True(full.Order(StringComparer.Ordinal).SequenceEqual(SnapshotConsistency.Check(snapshot, drained.Snapshot).Order(StringComparer.Ordinal)), what);
        }
    }

    /// <summary>The tunneling path's HTTP RBAC lives in the tenant's own RouteConfiguration: only that one changes.</summary>
    private static void AssertOnlyTenantRoutesChanged(CompiledSeed before, CompiledSeed after, string tenantId)
    {
        var routesBefore = Versions(before, TypeUrls.Route);
        var routesAfter = Versions(after, TypeUrls.Route);
        Assert.Equal(routesBefore.Keys, routesAfter.Keys);
        var changed = routesAfter.Where(r => routesBefore[r.Key] != r.Value).Select(r => r.Key).ToList();
        Assert.Equal([EnvoyNames.TunnelingRouteFor($"cluster-{tenantId}")], changed);
    }

    private static string SniHost(CompiledSeed compiled) => compiled.Tenants[Sni].SniChains[0].Message.FilterChainMatch.ServerNames[0];
}
