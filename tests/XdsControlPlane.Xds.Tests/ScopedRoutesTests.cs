using System.Text.Json;
using Envoy.Service.Status.V3;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>
/// SRDS (ScopedRouteConfiguration): the tunneling listener's scopes. Envoy subscribes as a wildcard (every scope
/// of the config source), and its SotW handler removes every scope a response leaves out, so SotW responses carry
/// the full set; delta lists a scope gone in <c>removed_resources</c>. Pushed after LDS and before RDS.
/// </summary>
public sealed class ScopedRoutesTests
{
    private static Snapshot Base() => Snap(Cluster("a"), Cluster("b"), Routes("r1", "a"), Routes("r2", "b"),
        Scope("s1", "r1", "cluster-1"), Scope("s2", "r2", "cluster-2"));

    private static Snapshot WithS3(Snapshot from) => Change(from, [Routes("r3", "a"), Scope("s3", "r3", "cluster-3")]);

    private static Snapshot WithoutS1(Snapshot from) => Change(from, [], (TypeUrls.ScopedRoute, "s1"), (TypeUrls.Route, "r1"));

    [Theory]
    [InlineData("ads")]
    [InlineData("srds")] // its own stream: the grpc config source (KKP's stock bootstrap)
    public async Task Sotw_AWildcardSubscriptionGetsEveryScope_InEveryResponse_AndALeftOutScopeIsRemoved(string stream)
    {
        var first = Base();
        await using var server = await XdsTestServer.StartAsync(first);
        await using var client = stream == "ads" ? server.Ads() : SotwClient.Srds(server.Channel);
        // Envoy's SRDS subscription names nothing (a wildcard: every scope of the config source).
        var initial = await client.SubscribeAsync(TypeUrls.ScopedRoute);
        Assert.Equal(["s1", "s2"], initial.Names());
        await client.AckAsync(initial);
        await client.ExpectNothingAsync();

        // A tenant comes: the response is the full set, not just the new scope (the client would drop s1 and s2).
        var second = WithS3(first);
        server.Set(second);
        var grown = await client.NextAsync();
        Assert.Equal(TypeUrls.ScopedRoute, grown.TypeUrl);
        Assert.Equal(["s1", "s2", "s3"], grown.Names());
        Assert.NotEqual(initial.VersionInfo, grown.VersionInfo);
        await client.AckAsync(grown);

        // A route configuration changes: no scope did, so no SRDS response.
        var third = Change(second, [Routes("r2", "a")]);
        server.Set(third);
        await client.ExpectNothingAsync();

        // A tenant goes: its scope is left out of the full set, which is how SotW says "removed".
        server.Set(WithoutS1(third));
        var shrunk = await client.NextAsync();
        Assert.Equal(["s2", "s3"], shrunk.Names());
        await client.AckAsync(shrunk);
        await client.ExpectNothingAsync();

        // The last one goes: an empty response, which removes every scope.
        server.Set(Change(WithoutS1(third), [], (TypeUrls.ScopedRoute, "s2"), (TypeUrls.ScopedRoute, "s3")));
        var empty = await client.NextAsync();
        Assert.Equal(TypeUrls.ScopedRoute, empty.TypeUrl);
        Assert.Empty(empty.Resources);
    }

    [Theory]
    [InlineData("ads")]
    [InlineData("srds")]
    public async Task Delta_AWildcardSubscriptionGetsEveryScope_ThenOnlyChanges_AndRemovalsInRemovedResources(string stream)
    {
        var first = Base();
        await using var server = await XdsTestServer.StartAsync(first);
        await using var client = stream == "ads" ? server.DeltaAds() : DeltaClient.Srds(server.Channel);
        await client.RequestAsync(TypeUrls.ScopedRoute);
        var initial = await client.NextAsync();
        Assert.Equal(TypeUrls.ScopedRoute, initial.TypeUrl);
        Assert.Equal(["s1", "s2"], initial.Names().Order(StringComparer.Ordinal));
        Assert.Empty(initial.RemovedResources);
        await client.AckAsync(initial);

        var second = WithS3(first);
        server.Set(second);
        var added = await client.NextAsync();
        Assert.Equal(["s3"], added.Names());
        Assert.Empty(added.RemovedResources);
        await client.AckAsync(added);

        server.Set(WithoutS1(second));
        var removed = await client.NextAsync();
        Assert.Empty(removed.Resources);
        Assert.Equal(["s1"], removed.RemovedResources);
        await client.AckAsync(removed);
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task Ads_PushesClustersEndpointsListenersThenScopesThenRoutes()
    {
        var first = Snap(Cluster("a"), Cluster("b"), Listener("l1", 10000, "a"), Routes("r1", "b"), Scope("s1", "r1", "cluster-1"));
        await using var server = await XdsTestServer.StartAsync(first);
        await using var client = server.Ads();
        // Subscribe in the "wrong" order (r3 does not exist yet: remembered and pushed when it appears).
        foreach (var (type, names) in new[] { (TypeUrls.Route, new[] { "r1", "r3" }), (TypeUrls.ScopedRoute, []), (TypeUrls.Listener, []),
            (TypeUrls.Endpoint, ["a", "b"]), (TypeUrls.Cluster, []) })
        {
            await client.AckAsync(await client.SubscribeAsync(type, names), names);
        }
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.All(t => t.Status == SyncStatus.Synced), "all ACKed");

        // A cluster and its endpoints change, a listener changes, and a tenant's scope and route configuration appear.
        server.Set(Change(first, [Cluster("a", 7000, timeoutSeconds: 1), Listener("l1", 10001, "a"), Routes("r3", "a"), Scope("s3", "r3", "cluster-3")]));
        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.Add((await client.NextAsync()).TypeUrl);
        }
        // Make before break: the scope after the listener that subscribes to scopes, and before the route
        // configuration it names (which Envoy asks for once it has the scope).
        Assert.Equal([TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener, TypeUrls.ScopedRoute, TypeUrls.Route], order);
        Assert.Equal([TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener, TypeUrls.ScopedRoute, TypeUrls.Route, TypeUrls.ExtensionConfig],
            TypeUrls.PushOrder);
    }

    [Fact]
    public async Task ScopesAppearInSynczCsdsConfigDumpAndMetrics()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads("srds-node");
        var srds = await client.SubscribeAsync(TypeUrls.ScopedRoute);
        await client.AckAsync(srds);
        await XdsTestServer.EventuallyAsync(
            () => server.SingleStream("srds-node").Types.Any(t => t.TypeUrl == TypeUrls.ScopedRoute && t.Status == SyncStatus.Synced), "SRDS ACKed");

        using var syncz = JsonDocument.Parse(await server.Http.GetStringAsync("/debug/syncz"));
        var types = syncz.RootElement.GetProperty("connected").EnumerateArray().Single().GetProperty("types").EnumerateArray()
            .ToDictionary(t => t.GetProperty("typeUrl").GetString()!, t => t.GetProperty("status").GetString());
        Assert.Equal("SYNCED", types[TypeUrls.ScopedRoute]);

        var csds = new ClientStatusDiscoveryService.ClientStatusDiscoveryServiceClient(server.Channel);
        var status = await csds.FetchClientStatusAsync(new ClientStatusRequest()).ResponseAsync.WaitAsync(Waits.Response);
        var scopes = status.Config.Single().GenericXdsConfigs.Where(g => g.TypeUrl == TypeUrls.ScopedRoute).ToList();
        Assert.Equal(["s1", "s2"], scopes.Select(g => g.Name).Order(StringComparer.Ordinal));
        Assert.All(scopes, g => Assert.Equal(ConfigStatus.Synced, g.ConfigStatus));

        using var dump = JsonDocument.Parse(await server.Http.GetStringAsync("/debug/config_dump"));
        var dumped = dump.RootElement.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type_url").GetString() == TypeUrls.ScopedRoute);
        var s1 = dumped.GetProperty("resources")[0].GetProperty("resource");
        Assert.Equal(TypeUrls.ScopedRoute, s1.GetProperty("@type").GetString());
        Assert.Equal("r1", s1.GetProperty("routeConfigurationName").GetString());

        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Contains("xds_pushes_total{type=\"ScopedRouteConfiguration\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("xds_acks_total{type=\"ScopedRouteConfiguration\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("xds_snapshot_resources{type=\"ScopedRouteConfiguration\"} 2", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public void ASnapshotWhoseScopeNamesAMissingRouteConfigurationIsRefused()
    {
        var problems = SnapshotConsistency.Check(new Snapshot([
            new ResourceSet(TypeUrls.ScopedRoute, [new EnvoyResource("s1", Scope("s1", "nowhere", "cluster-1"))])]));
        Assert.Equal(["scope 's1' uses missing route configuration 'nowhere'"], problems);
    }
}
