using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Extensions.Filters.Network.HttpConnectionManager.V3;
using Envoy.Extensions.Filters.Network.TcpProxy.V3;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// How long connections live: only a tenant whose served RBAC restricts who may connect has its connections
/// capped (TCP with ECDS, CONNECT streams in both modes); the others are served envoy-manager's tcp_proxy and
/// CONNECT route byte for byte. And tenants coming and going change the SRDS scopes, never the tunneling
/// listener nor another tenant's chain.
/// </summary>
public sealed class ConnectionsTests
{
    private const string Listed = "k7x2m9p4qz";   // Tunneling, a list: SNI chain + CONNECT virtual host
    private const string NodePort = "b5n8w3r6tj"; // NodePort, a list
    private const string Open = "c9v4h2l7xd";     // Tunneling, no list
    private const string DryRun = "d3f6g8j1ks";   // Tunneling, a list in dry run
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private static readonly string Example = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed");

    private static SeedModel Model(Func<SeedSettings, SeedSettings>? seed = null)
    {
        var load = new FolderSource(Example, Microsoft.Extensions.Logging.Abstractions.NullLogger<FolderSource>.Instance).Load();
        var translated = InventoryTranslator.Translate(load.Inventory!);
        return new SeedModel(seed is null ? translated.Seed! : seed(translated.Seed!), translated.Tenants);
    }

    private static SeedModel WithRanges(SeedModel model, string tenantId, params string[] ranges) => model with
    {
        Tenants = model.Tenants.Select(t => t.Id == tenantId ? t with { AllowedRanges = ranges.Select(CidrRange.Parse).ToValueList() } : t).ToValueList(),
    };

    /// <summary>Every tcp_proxy of the tenant: its SNI chains' and its NodePort listeners'.</summary>
    private static List<TcpProxy> TcpProxies(CompiledSeed compiled, string tenantId)
    {
        var artifacts = compiled.Tenants[tenantId];
        var chains = artifacts.SniChains.Select(c => c.Message)
            .Concat(artifacts.NodePortListeners.SelectMany(l => ((Listener)l.Message).FilterChains));
        return [.. chains.SelectMany(c => c.Filters)
            .Where(f => f.TypedConfig?.Is(TcpProxy.Descriptor) == true)
            .Select(f => f.TypedConfig.Unpack<TcpProxy>())];
    }

    private static List<Route> ConnectRoutes(CompiledSeed compiled, string tenantId) =>
        [.. compiled.Tenants[tenantId].TunnelingRoutes.SelectMany(r => ((RouteConfiguration)r.Message).VirtualHosts).SelectMany(v => v.Routes)];

    /// <summary>envoy-manager's tcp_proxy: stat prefix and cluster, nothing else.</summary>
    private static void AssertEnvoyManagersTcpProxy(TcpProxy proxy) =>
        Assert.Equal(new TcpProxy { StatPrefix = EnvoyNames.TcpStatPrefix, Cluster = proxy.Cluster }, proxy);

    /// <summary>envoy-manager's CONNECT route: the virtual host's cluster, CONNECT upgraded, no stream cap.</summary>
    private static void AssertEnvoyManagersConnectRoute(Route route)
    {
        var expected = new Route
        {
            Match = new RouteMatch { ConnectMatcher = new RouteMatch.Types.ConnectMatcher() },
            Route_ = new RouteAction
            {
                Cluster = route.Route_.Cluster,
                UpgradeConfigs = { new RouteAction.Types.UpgradeConfig { UpgradeType = "CONNECT", ConnectConfig = new RouteAction.Types.UpgradeConfig.Types.ConnectConfig() } },
            },
        };
        Assert.Equal(expected, route);
    }

    [Theory]
    [InlineData(RbacDelivery.Ecds)]
    [InlineData(RbacDelivery.Inline)]
    public void OnlyTenantsWithAnEnforcedListHaveTheirConnectionsCapped(RbacDelivery delivery)
    {
        var compiled = SeedCompiler.Compile(Model(s => s with { RbacDelivery = delivery }));
        Assert.Equal(Enforcement.Unrestricted, compiled.Tenants[Open].Decision.Enforcement);
        Assert.Equal(Enforcement.DryRun, compiled.Tenants[DryRun].Decision.Enforcement);

        // No list, or a list in dry run: nothing is ever revoked, so nothing is capped, in either mode.
        foreach (var tenant in new[] { Open, DryRun })
        {
            Assert.NotEmpty(TcpProxies(compiled, tenant));
            Assert.All(TcpProxies(compiled, tenant), AssertEnvoyManagersTcpProxy);
            Assert.NotEmpty(ConnectRoutes(compiled, tenant));
            Assert.All(ConnectRoutes(compiled, tenant), AssertEnvoyManagersConnectRoute);
        }

        // A list: the CONNECT route is capped in both modes (a route change never reaches a live tunnel) ...
        Assert.NotEmpty(ConnectRoutes(compiled, Listed));
        Assert.All(ConnectRoutes(compiled, Listed), r => Assert.Equal(Hour, r.Route_.MaxStreamDuration.MaxStreamDuration_.ToTimeSpan()));
        // ... and the TCP connections with ECDS only (inline, any change of the list changes the chain: drained).
        var listedProxies = TcpProxies(compiled, Listed).Concat(TcpProxies(compiled, NodePort)).ToList();
        Assert.True(listedProxies.Count >= 3);
        if (delivery == RbacDelivery.Ecds)
        {
            Assert.All(listedProxies, p => Assert.Equal(Hour, p.MaxDownstreamConnectionDuration.ToTimeSpan()));
        }
        else
        {
            Assert.All(listedProxies, AssertEnvoyManagersTcpProxy);
        }

        // A NodePort tenant without a list: its NodePort listeners' tcp_proxy is envoy-manager's too.
        var openNodePort = SeedCompiler.Compile(WithRanges(Model(s => s with { RbacDelivery = delivery }), NodePort));
        Assert.NotEmpty(openNodePort.Tenants[NodePort].NodePortListeners);
        Assert.NotEmpty(TcpProxies(openNodePort, NodePort));
        Assert.All(TcpProxies(openNodePort, NodePort), AssertEnvoyManagersTcpProxy);
    }

    [Fact]
    public void AListServedOpenBecauseItCannotBeEnforcedIsNotCappedButDenyAllIs()
    {
        var open = SeedCompiler.Compile(Model(s => s with { SourceIpPreservedOverride = false }));
        Assert.Equal(Enforcement.NotEnforceableOpen, open.Tenants[Listed].Decision.Enforcement);
        Assert.All(TcpProxies(open, Listed), AssertEnvoyManagersTcpProxy);
        Assert.All(ConnectRoutes(open, Listed), AssertEnvoyManagersConnectRoute);

        // Deny-all restricts (to nothing): what was admitted before it must end, so it is capped.
        var denyAll = SeedCompiler.Compile(Model(s => s with { SourceIpPreservedOverride = false, Unenforceable = UnenforceablePolicy.DenyAll }));
        Assert.Equal(Enforcement.NotEnforceableDenyAll, denyAll.Tenants[Listed].Decision.Enforcement);
        Assert.All(TcpProxies(denyAll, Listed), p => Assert.Equal(Hour, p.MaxDownstreamConnectionDuration.ToTimeSpan()));
        Assert.All(ConnectRoutes(denyAll, Listed), r => Assert.Equal(Hour, r.Route_.MaxStreamDuration.MaxStreamDuration_.ToTimeSpan()));
    }

    [Theory]
    [InlineData(90, 90)]
    [InlineData(0, null)]
    public void TheCapIsTheSeedSetting(int minutes, int? expected)
    {
        var compiled = SeedCompiler.Compile(Model(s => s with { MaxConnectionDuration = TimeSpan.FromMinutes(minutes) }));
        var want = expected is null ? (TimeSpan?)null : TimeSpan.FromMinutes(expected.Value);
        Assert.All(TcpProxies(compiled, Listed).Concat(TcpProxies(compiled, NodePort)),
            p => Assert.Equal(want, p.MaxDownstreamConnectionDuration?.ToTimeSpan()));
        Assert.All(ConnectRoutes(compiled, Listed), r => Assert.Equal(want, r.Route_.MaxStreamDuration?.MaxStreamDuration_?.ToTimeSpan()));
        Assert.All(TcpProxies(compiled, Open), AssertEnvoyManagersTcpProxy);
    }

    [Fact]
    public void AddingAListAddsTheCapAndDrainsAtOnceEvenWhenDrainsAreDeferred()
    {
        var model = Model();
        var open = WithRanges(model, Listed);
        var before = SeedCompiler.Compile(open);
        Assert.All(TcpProxies(before, Listed), AssertEnvoyManagersTcpProxy);

        // Deferred drains: a narrowing would keep the filter name; but the cap changes the chain anyway (Envoy
        // drains it with this push), so the rename is done now and nothing is owed (no second drain later).
        var after = SeedCompiler.Compile(model, before, drainRevocations: false);
        Assert.All(TcpProxies(after, Listed), p => Assert.Equal(Hour, p.MaxDownstreamConnectionDuration.ToTimeSpan()));
        Assert.All(ConnectRoutes(after, Listed), r => Assert.Equal(Hour, r.Route_.MaxStreamDuration.MaxStreamDuration_.ToTimeSpan()));
        Assert.NotEqual(before.Tenants[Listed].RevocationGeneration, after.Tenants[Listed].RevocationGeneration);
        Assert.Empty(after.OwedRevocations);
        var chainsBefore = before.Tenants[Listed].SniChains.ToDictionary(c => c.Name, c => c.Hash);
        Assert.All(after.Tenants[Listed].SniChains, c => Assert.NotEqual(chainsBefore[c.Name], c.Hash));
        // Old connections end: the new chain admits only the list, the old one (drained) admitted everyone.
        var host = after.Tenants[Listed].SniChains[0].Message.FilterChainMatch.ServerNames[0];
        Assert.False(RbacEvaluator.Allows(RbacEvaluator.SniRbac(after.Snapshot, host), System.Net.IPAddress.Parse("100.64.9.9")));
        Assert.True(RbacEvaluator.Allows(RbacEvaluator.SniRbac(before.Snapshot, host), System.Net.IPAddress.Parse("100.64.9.9")));
        // Every other tenant's chains are the same bytes.
        foreach (var other in after.Tenants.Values.Where(a => a.Tenant.Id != Listed))
        {
            Assert.Equal(before.Tenants[other.Tenant.Id].SniChains.Select(c => c.Hash), other.SniChains.Select(c => c.Hash));
        }
        Assert.Empty(SnapshotConsistency.Check(after.Snapshot, before.Snapshot));

        // Removing the list again: a widening (same generation, nothing owed); the cap goes with it.
        var reopened = SeedCompiler.Compile(open, after, drainRevocations: false);
        Assert.Equal(after.Tenants[Listed].RevocationGeneration, reopened.Tenants[Listed].RevocationGeneration);
        Assert.Empty(reopened.OwedRevocations);
        Assert.All(TcpProxies(reopened, Listed), AssertEnvoyManagersTcpProxy);
        Assert.All(ConnectRoutes(reopened, Listed), AssertEnvoyManagersConnectRoute);
    }

    [Fact]
    public void ANarrowingOfAListKeepsTheCapAndStillDefers()
    {
        var model = Model();
        var before = SeedCompiler.Compile(model);
        var narrower = WithRanges(model, Listed, model.Tenants.Single(t => t.Id == Listed).AllowedRanges[0].ToString());
        var deferred = SeedCompiler.Compile(narrower, before, drainRevocations: false);
        // The cap was there and stays: no chain changes, the drain is owed as before.
        Assert.Equal([Listed], deferred.OwedRevocations);
        Assert.Equal(before.Snapshot.Get(TypeUrls.Listener).Version, deferred.Snapshot.Get(TypeUrls.Listener).Version);
    }

    /// <summary>A Tunneling tenant like <see cref="Open"/>, under another id (its own namespace, hostnames and authorities).</summary>
    private static Tenant Copy(Tenant template, string id) => template with
    {
        Id = id,
        Services = template.Services.Select(s => s with
        {
            Namespace = $"cluster-{id}",
            Ports = s.Ports.Select(p => p with { SniHostname = p.SniHostname?.Replace(template.Id, id, StringComparison.Ordinal) }).ToValueList(),
        }).ToValueList(),
    };

    [Theory]
    [InlineData(RbacDelivery.Ecds)]
    [InlineData(RbacDelivery.Inline)]
    public void TenantsComingAndGoingChangeTheScopesNeverTheTunnelingListener(RbacDelivery delivery)
    {
        var model = Model(s => s with { RbacDelivery = delivery });
        var before = SeedCompiler.Compile(model);
        var added = Copy(model.Tenants.Single(t => t.Id == Open), "n4w7t3n4nt");
        var grown = model with { Tenants = model.Tenants.Append(added).OrderBy(t => t.Id, StringComparer.Ordinal).ToValueList() };
        var withNew = SeedCompiler.Compile(grown, before);
        var shrunk = grown with { Tenants = grown.Tenants.Where(t => t.Id != Listed).ToValueList() };
        var withoutListed = SeedCompiler.Compile(shrunk, withNew);

        var steps = new[] { (Before: before, After: withNew, Added: new[] { added.Namespace }, Removed: Array.Empty<string>()),
            (Before: withNew, After: withoutListed, Added: Array.Empty<string>(), Removed: new[] { $"cluster-{Listed}" }) };
        foreach (var (from, to, addedNs, removedNs) in steps)
        {
            var listenerBefore = from.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.TunnelingListener];
            var listenerAfter = to.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.TunnelingListener];
            Assert.Equal(listenerBefore.Version, listenerAfter.Version);
            Assert.True(listenerBefore.Bytes.Equals(listenerAfter.Bytes));

            // The SRDS set changes by exactly the scopes of the tenants that came or went; the rest are the same resources.
            var scopesBefore = from.Snapshot.Get(TypeUrls.ScopedRoute).Resources;
            var scopesAfter = to.Snapshot.Get(TypeUrls.ScopedRoute).Resources;
            Assert.Equal(addedNs.Select(EnvoyNames.TunnelingRouteFor), scopesAfter.Keys.Except(scopesBefore.Keys));
            Assert.Equal(removedNs.Select(EnvoyNames.TunnelingRouteFor), scopesBefore.Keys.Except(scopesAfter.Keys));
            Assert.All(scopesAfter.Keys.Intersect(scopesBefore.Keys), name => Assert.Same(scopesBefore[name], scopesAfter[name]));

            // Every other tenant's SNI chain is the same bytes.
            foreach (var tenant in to.Tenants.Values.Where(a => from.Tenants.ContainsKey(a.Tenant.Id)))
            {
                Assert.Equal(from.Tenants[tenant.Tenant.Id].SniChains.Select(c => c.Bytes), tenant.SniChains.Select(c => c.Bytes));
            }
            Assert.Empty(SnapshotConsistency.Check(to.Snapshot, from.Snapshot));
            Assert.Empty(SnapshotConsistency.Check(to.Snapshot));
        }
        // The new tenant's scope is keyed by its namespace and names its own route configuration, which RDS serves.
        var scope = (ScopedRouteConfiguration)withNew.Snapshot.Get(TypeUrls.ScopedRoute).Resources[EnvoyNames.TunnelingRouteFor(added.Namespace)].Message;
        Assert.Equal(added.Namespace, scope.Key.Fragments.Single().StringKey);
        Assert.Equal(EnvoyNames.TunnelingRouteFor(added.Namespace), scope.RouteConfigurationName);
        Assert.Contains(scope.RouteConfigurationName, withNew.Snapshot.Get(TypeUrls.Route).Resources.Keys);
    }

    [Theory]
    [InlineData(ConfigSourceStyle.Ads)]
    [InlineData(ConfigSourceStyle.Grpc)]
    public void TheTunnelingListenerFetchesItsScopesFromTheSeedsConfigSource(ConfigSourceStyle style)
    {
        var compiled = SeedCompiler.Compile(Model(s => s with { ConfigSource = style }));
        var listener = (Listener)compiled.Snapshot.Get(TypeUrls.Listener).Resources[EnvoyNames.TunnelingListener].Message;
        var hcm = listener.FilterChains.Single().Filters.Single().TypedConfig.Unpack<HttpConnectionManager>();
        var scoped = hcm.ScopedRoutes;
        Assert.Equal(ScopedRoutes.ConfigSpecifierOneofCase.ScopedRds, scoped.ConfigSpecifierCase);
        // The same config source as the ECDS filters and the clusters' EDS (ads, or gRPC to xds_cluster).
        var expected = ExpectedMessages.ConfigSource(compiled.Model.Seed);
        Assert.Equal(expected, scoped.ScopedRds.ScopedRdsConfigSource);
        Assert.Equal(expected, scoped.RdsConfigSource);
        Assert.Equal(style == ConfigSourceStyle.Ads, expected.ConfigSourceSpecifierCase == Envoy.Config.Core.V3.ConfigSource.ConfigSourceSpecifierOneofCase.Ads);
        Assert.Equal(":authority", scoped.ScopeKeyBuilder.Fragments.Single().HeaderValueExtractor.Name);
    }

    [Fact]
    public void AScopeNamingAMissingRouteOrTakingAnothersKeyIsRefused()
    {
        var compiled = SeedCompiler.Compile(Model());
        var snapshot = compiled.Snapshot;
        var scopes = snapshot.Get(TypeUrls.ScopedRoute);
        var stray = new ScopedRouteConfiguration
        {
            Name = "http2_connect/stray",
            RouteConfigurationName = "http2_connect/nowhere",
            Key = new() { Fragments = { new ScopedRouteConfiguration.Types.Key.Types.Fragment { StringKey = "stray" } } },
        };
        var twin = new ScopedRouteConfiguration
        {
            Name = "http2_connect/twin",
            RouteConfigurationName = EnvoyNames.TunnelingRouteFor($"cluster-{Listed}"),
            Key = new() { Fragments = { new ScopedRouteConfiguration.Types.Key.Types.Fragment { StringKey = $"cluster-{Listed}" } } },
        };
        foreach (var (bad, problem) in new[] { (stray, "uses missing route configuration 'http2_connect/nowhere'"), (twin, "have the same key") })
        {
            var broken = new Snapshot(snapshot.ByType.Values.Where(s => s.TypeUrl != TypeUrls.ScopedRoute)
                .Append(scopes.With([new EnvoyResource(bad.Name, bad)], [])));
            Assert.Contains(SnapshotConsistency.Check(broken), p => p.Contains(problem, StringComparison.Ordinal));
            Assert.Contains(SnapshotConsistency.Check(broken, snapshot), p => p.Contains(problem, StringComparison.Ordinal));
        }
        // Removing a route configuration a scope still names is found incrementally too.
        var routes = snapshot.Get(TypeUrls.Route);
        var name = EnvoyNames.TunnelingRouteFor($"cluster-{Listed}");
        var orphaned = new Snapshot(snapshot.ByType.Values.Where(s => s.TypeUrl != TypeUrls.Route).Append(routes.With([], [name])));
        Assert.Contains(SnapshotConsistency.Check(orphaned, snapshot), p => p.Contains($"scope '{name}' uses missing route configuration", StringComparison.Ordinal));
    }
}
