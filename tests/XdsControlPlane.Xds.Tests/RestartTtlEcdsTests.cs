using Envoy.Config.Core.V3;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>Obligations 21-23: restarts and replicas, TTL, ECDS.</summary>
public sealed class RestartTtlEcdsTests
{
    private static Snapshot Content(int port = 8080) => Snap(Cluster("a", port), Listener("l1", 10000, "a"), Routes("r1", "a"));

    [Fact]
    public async Task O21_ARestartedServerWithIdenticalContentSendsNothingNewToAReconnectingClient()
    {
        Dictionary<string, (string Version, string Nonce)> held = [];
        Dictionary<string, string> deltaHeld;
        await using (var before = await XdsTestServer.StartAsync(Content()))
        {
            await using var client = before.Ads();
            foreach (var (type, names) in new[] { (TypeUrls.Cluster, Array.Empty<string>()), (TypeUrls.Endpoint, ["a"]), (TypeUrls.Listener, []), (TypeUrls.Route, ["r1"]) })
            {
                var response = await client.SubscribeAsync(type, names);
                held[type] = (response.VersionInfo, response.Nonce);
            }
            await using var delta = before.DeltaAds("envoy-delta");
            await delta.RequestAsync(TypeUrls.Cluster);
            deltaHeld = (await delta.NextAsync()).Resources.ToDictionary(r => r.Name, r => r.Version);
        }

        // A new process (or another replica): the snapshot is rebuilt from the same content.
        await using var after = await XdsTestServer.StartAsync(Content());
        await using var reconnected = after.Ads();
        await reconnected.RequestAsync(TypeUrls.Cluster, [], held[TypeUrls.Cluster].Version, held[TypeUrls.Cluster].Nonce);
        await reconnected.RequestAsync(TypeUrls.Endpoint, ["a"], held[TypeUrls.Endpoint].Version, held[TypeUrls.Endpoint].Nonce);
        await reconnected.RequestAsync(TypeUrls.Listener, [], held[TypeUrls.Listener].Version, held[TypeUrls.Listener].Nonce);
        await reconnected.RequestAsync(TypeUrls.Route, ["r1"], held[TypeUrls.Route].Version, held[TypeUrls.Route].Nonce);
        await reconnected.ExpectNothingAsync();
        Assert.All(after.SingleStream().Types, t => Assert.Equal(SyncStatus.Synced, t.Status));

        await using var deltaReconnected = after.DeltaAds("envoy-delta");
        await deltaReconnected.RequestAsync(TypeUrls.Cluster, initialVersions: deltaHeld);
        await deltaReconnected.ExpectNothingAsync();

        // Different content gets a different version and is sent.
        after.Set(Content(port: 9999));
        var endpoints = await reconnected.NextAsync();
        Assert.Equal(TypeUrls.Endpoint, endpoints.TypeUrl);
        Assert.NotEqual(held[TypeUrls.Endpoint].Version, endpoints.VersionInfo);
    }

    [Fact]
    public async Task O21_DifferentContentGetsADifferentVersionOnReconnect()
    {
        string version;
        await using (var before = await XdsTestServer.StartAsync(Content()))
        {
            await using var client = before.Ads();
            version = (await client.SubscribeAsync(TypeUrls.Endpoint, "a")).VersionInfo;
        }
        await using var after = await XdsTestServer.StartAsync(Content(port: 8181));
        await using var reconnected = after.Ads();
        await reconnected.RequestAsync(TypeUrls.Endpoint, ["a"], version);
        var response = await reconnected.NextAsync();
        Assert.NotEqual(version, response.VersionInfo);
        Assert.Equal(["a"], response.Names());
    }

    [Fact]
    public async Task O22_NoTtlOrHeartbeatIsEverSent_EvenToClientsThatSupportIt()
    {
        // This server never sends TTL wrappers or heartbeats (allowed: they are opt-in for the server too);
        // so clients without xds.config.supports-resource-ttl can never receive one.
        await using var server = await XdsTestServer.StartAsync(Content());
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Cluster, clientFeatures: ["xds.config.supports-resource-ttl"]);
        var response = await client.NextAsync();
        Assert.All(response.Resources, r => Assert.Null(r.Ttl));
        Assert.All(response.Resources, r => Assert.NotNull(r.Resource_));
        await client.AckAsync(response);
        await client.ExpectNothingAsync(); // no heartbeat
        await using var sotw = server.Ads("sotw");
        var cds = await sotw.SubscribeAsync(TypeUrls.Cluster);
        Assert.All(cds.Resources, any => Assert.Equal(TypeUrls.Cluster, any.TypeUrl)); // not wrapped in a Resource
    }

    [Fact]
    public async Task O23_EcdsServesTypedExtensionConfigUnderTheFiltersName_WithAnInnerTypeTheFilterAccepts()
    {
        var snapshot = Snap(Cluster("a"), EcdsListener("l1", 10000, "a", "tenant-a-rbac"), Rbac("tenant-a-rbac"));
        await using var server = await XdsTestServer.StartAsync(snapshot);
        await using var lds = SotwClient.Lds(server.Channel);
        var listener = (await lds.SubscribeAsync(TypeUrls.Listener)).Resources.Single().Unpack<Envoy.Config.Listener.V3.Listener>();
        var filter = listener.FilterChains[0].Filters[0];

        await using var ecds = SotwClient.Ecds(server.Channel);
        var response = await ecds.SubscribeAsync(TypeUrls.ExtensionConfig, filter.Name);
        var config = response.Resources.Single().Unpack<TypedExtensionConfig>();
        Assert.Equal(filter.Name, config.Name);
        Assert.Contains(config.TypedConfig.TypeUrl, filter.ConfigDiscovery.TypeUrls);

        // Over ADS too, pushed after the listener.
        await using var ads = server.Ads("ads");
        await ads.RequestAsync(TypeUrls.ExtensionConfig, [filter.Name]);
        Assert.Equal([filter.Name], (await ads.NextAsync()).Names());
        await ecds.AckAsync(response, [filter.Name]);
        server.Set(Snap(Cluster("a"), EcdsListener("l1", 10000, "a", "tenant-a-rbac"), Rbac("tenant-a-rbac", "changed")));
        Assert.Equal(["tenant-a-rbac"], (await ecds.NextAsync()).Names());
    }
}

/// <summary>A replica still reading its source must not answer: an empty LDS/CDS response deletes all of Envoy's config.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task NothingIsServedBeforeTheFirstSnapshotIsApplied_ThenPendingRequestsAreAnswered()
    {
        await using var server = await XdsTestServer.StartAsync(null);
        await using var client = server.Ads();
        await client.RequestAsync(TypeUrls.Listener);
        await client.RequestAsync(TypeUrls.Cluster);
        await client.ExpectNothingAsync();

        server.Set(Snap(Cluster("a", 8080), Listener("l1", 10000, "a")));
        var first = await client.NextAsync();
        var second = await client.NextAsync();
        Assert.Equal([TypeUrls.Cluster, TypeUrls.Listener], new[] { first.TypeUrl, second.TypeUrl });
        Assert.Equal(["l1"], second.Names());
    }
}
