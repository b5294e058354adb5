using Envoy.Config.Cluster.V3;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>Obligations 1-13 (state of the world), each against a real server over h2c.</summary>
public sealed class SotwProtocolTests
{
    private static Snapshot Base() => Snap(Cluster("a", 8080), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b"));

    [Fact]
    public async Task O01_EveryResponseHasFreshNonce_AndANonceFromAnEarlierStreamIsNotCurrent()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        var nonces = new List<string>();
        string oldNonce;
        await using (var first = server.Ads())
        {
            var cds = await first.SubscribeAsync(TypeUrls.Cluster);
            nonces.Add(cds.Nonce);
            await first.AckAsync(cds);
            server.Set(Snap(Cluster("a", 8080, timeoutSeconds: 7), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b")));
            var second = await first.NextAsync();
            nonces.Add(second.Nonce);
            oldNonce = second.Nonce;
        }

        await using var client = server.Ads();
        // First request on a new stream carrying the old stream's nonce: a subscription, not an ACK.
        await client.RequestAsync(TypeUrls.Cluster, nonce: oldNonce);
        var fresh = await client.NextAsync();
        nonces.Add(fresh.Nonce);
        // The old nonce is not current on this stream: a request with it is ignored.
        await client.RequestAsync(TypeUrls.Cluster, ["a"], fresh.VersionInfo, oldNonce);
        await client.ExpectNothingAsync();
        Assert.All(nonces, n => Assert.False(string.IsNullOrEmpty(n)));
        Assert.Equal(nonces.Count, nonces.Distinct().Count());
        Assert.Null(server.SingleStream().Types.Single().VersionAcked);
    }

    [Fact]
    public async Task O02_NodeOnlyOnFirstRequest_LaterRequestsBelongToThatNode()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads("node-with-id");
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a");
        Assert.True(client.NodeSent);
        // No node on this request: still that node's stream; the new name is answered.
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "b"], eds.VersionInfo, eds.Nonce);
        var more = await client.NextAsync();
        Assert.Equal(["b"], more.Names());
        var stream = server.SingleStream("node-with-id");
        Assert.Equal("kkp-nodeport-proxy", stream.NodeCluster);
        Assert.Equal("1.37.0", stream.BuildVersion);
    }

    [Fact]
    public async Task O03_StaleNonceGetsNoResponse()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var first = await client.SubscribeAsync(TypeUrls.Endpoint, "a");
        server.Set(Snap(Cluster("a", 9090), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b")));
        var second = await client.NextAsync();
        // A request answering the first response (stale) with a new name: ignored entirely.
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "b"], first.VersionInfo, first.Nonce);
        await client.ExpectNothingAsync();
        Assert.NotEqual(second.VersionInfo, server.SingleStream().Types.Single().VersionAcked);
        // The same request with the current nonce is answered.
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "b"], second.VersionInfo, second.Nonce);
        Assert.Equal(["b"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O04_AckGetsNoResponseUntilConfigChanges()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        await client.ExpectNothingAsync();
        var status = server.SingleStream().Types.Single();
        Assert.Equal(SyncStatus.Synced, status.Status);
        Assert.Equal(cds.VersionInfo, status.VersionAcked);
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 8081), Cluster("c", 8082), Listener("l1", 10000, "a"), Routes("r1", "b")));
        Assert.Equal(["a", "b", "c"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O04_NackIsRecordedWithItsMessage_AndTheRejectedVersionIsNotResent()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.Single().Status == SyncStatus.Synced, "ACK recorded");
        var changed = Snap(Cluster("a", 8080, timeoutSeconds: 9), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b"));
        server.Set(changed);
        var rejected = await client.NextAsync();
        await client.NackAsync(rejected, cds.VersionInfo, "cluster a: bad connect_timeout");
        await client.ExpectNothingAsync();
        // Re-setting the same content changes nothing: still no resend.
        server.Set(Snap(Cluster("a", 8080, timeoutSeconds: 9), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b")));
        await client.ExpectNothingAsync();
        var status = server.SingleStream().Types.Single();
        Assert.Equal(SyncStatus.Error, status.Status);
        Assert.Equal(cds.VersionInfo, status.VersionAcked);
        Assert.NotNull(status.LastNack);
        Assert.Equal(rejected.VersionInfo, status.LastNack!.Version);
        Assert.Contains("cluster a: bad connect_timeout", status.LastNack.Message, StringComparison.Ordinal);
        // The next change is pushed.
        server.Set(Snap(Cluster("a", 8080, timeoutSeconds: 3), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b")));
        var next = await client.NextAsync();
        Assert.NotEqual(rejected.VersionInfo, next.VersionInfo);
    }

    [Fact]
    public async Task O04_NackOfEndpointsIsNotResent()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a", "b");
        await client.NackAsync(eds, "", "endpoint rejected", ["a", "b"]);
        await client.ExpectNothingAsync();
        Assert.Equal(SyncStatus.Error, server.SingleStream().Types.Single().Status);
    }

    [Fact]
    public async Task O05_EachTypeHasItsOwnVersion_AClusterOnlyChangeSendsNoListenerResponse()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        var lds = await client.SubscribeAsync(TypeUrls.Listener);
        await client.AckAsync(lds);
        var rds = await client.SubscribeAsync(TypeUrls.Route, "r1");
        await client.AckAsync(rds, ["r1"]);
        server.Set(Snap(Cluster("a", 8080, timeoutSeconds: 2), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b")));
        var pushed = await client.NextAsync();
        Assert.Equal(TypeUrls.Cluster, pushed.TypeUrl);
        Assert.NotEqual(cds.VersionInfo, pushed.VersionInfo);
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task O06_EmptyFirstRequestIsWildcard()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        Assert.Equal(["a", "b"], cds.Names());
        await client.AckAsync(cds);
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 8081), Cluster("new", 8085), Listener("l1", 10000, "a"), Routes("r1", "b")));
        Assert.Equal(["a", "b", "new"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O06_OnceNamesWereSentAnEmptyListMeansNone()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a");
        await client.AckAsync(eds, []);
        await client.ExpectNothingAsync();
        server.Set(Snap(Cluster("a", 9999), Cluster("b", 9998), Listener("l1", 10000, "a"), Routes("r1", "b")));
        await client.ExpectNothingAsync();
        Assert.Equal(0, server.SingleStream().Types.Single().SubscribedNames);
        Assert.False(server.SingleStream().Types.Single().Wildcard);
    }

    [Fact]
    public async Task O06_StarPlusNamesIsWildcardPlusThoseNames()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster, "*", "later");
        Assert.Equal(["a", "b"], cds.Names());
        await client.AckAsync(cds, ["*", "later"]);
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 8081), Cluster("later", 8082), Cluster("other", 8083), Listener("l1", 10000, "a"), Routes("r1", "b")));
        Assert.Equal(["a", "b", "later", "other"], (await client.NextAsync()).Names());
        var stream = server.SingleStream().Types.Single();
        Assert.True(stream.Wildcard);
        Assert.Equal(1, stream.SubscribedNames);
    }

    [Fact]
    public async Task O07_ListenersAndClustersAreFullState_OmissionDeletes_EmptyResponseDeletesAll()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b")));
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        server.Set(Snap(Cluster("a", timeoutSeconds: 1), Cluster("b")));
        var changed = await client.NextAsync();
        Assert.Equal(["a", "b"], changed.Names());
        await client.AckAsync(changed);
        server.Set(Snap(Cluster("a", timeoutSeconds: 1)));
        var removed = await client.NextAsync();
        Assert.Equal(["a"], removed.Names());
        await client.AckAsync(removed);
        server.Set(Snap());
        var empty = await client.NextAsync();
        Assert.Empty(empty.Resources);
        Assert.Equal(TypeUrls.Cluster, empty.TypeUrl);
    }

    [Fact]
    public async Task O08_EndpointsMayOmitUnchanged_OmissionIsNotDeletion()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b")));
        await using var client = server.Ads();
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a", "b");
        Assert.Equal(["a", "b"], eds.Names());
        await client.AckAsync(eds, ["a", "b"]);
        server.Set(Snap(Cluster("a", 9000), Cluster("b")));
        var changed = await client.NextAsync();
        Assert.Equal(["a"], changed.Names());
        await client.AckAsync(changed, ["a", "b"]);
        // b disappears: nothing to send (an EDS response without b would not delete it anyway).
        server.Set(Snap(Cluster("a", 9000)));
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task O08_ARouteRemovedAndBackUnchangedIsStillHeld_OnlyTheChangedOneIsSent()
    {
        var first = Snap(Cluster("a"), Cluster("b"), Listener("l1", 10000, "a"), Routes("r1", "b"), Routes("r2", "b"));
        await using var server = await XdsTestServer.StartAsync(first);
        await using var client = server.Ads();
        string[] routes = ["r1", "r2"];
        await client.AckAsync(await client.SubscribeAsync(TypeUrls.Route, routes), routes);
        var second = Change(first, [], (TypeUrls.Route, "r2"));
        server.Set(second);
        await client.ExpectNothingAsync();
        // r2 comes back as it was (Envoy kept it: omission is not deletion) while r1 changes.
        server.Set(Change(second, [Routes("r2", "b"), Routes("r1", "a")]));
        Assert.Equal(["r1"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O09_ANameNewlyAddedToTheSubscriptionIsSentEvenIfUnchanged()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var both = await client.SubscribeAsync(TypeUrls.Endpoint, "a", "b");
        await client.AckAsync(both, ["a"]);
        await client.ExpectNothingAsync();
        await client.AckAsync(both, ["a", "b"]);
        var again = await client.NextAsync();
        Assert.Equal(["b"], again.Names());
    }

    [Fact]
    public async Task O09_TheSubscriptionIsTheSetOfNamesRequested_InAnyOrder_ARepeatedNameCountsOnce()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a", "b");
        // The names held, in another order: the same subscription, nothing to send.
        await client.AckAsync(eds, ["b", "a"]);
        await client.ExpectNothingAsync();
        // As many names as held, one of them twice: "b" is no longer subscribed.
        await client.AckAsync(eds, ["a", "a"]);
        await client.ExpectNothingAsync();
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.Single().SubscribedNames == 1, "one name subscribed");
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 9081), Listener("l1", 10000, "a"), Routes("r1", "b")));
        await client.ExpectNothingAsync();
        await client.AckAsync(eds, ["a", "b"]);
        Assert.Equal(["b"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O10_ARequestedResourceThatDoesNotExistIsPushedWhenItAppears()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a", "later");
        Assert.Equal(["a"], eds.Names());
        await client.AckAsync(eds, ["a", "later"]);
        await client.ExpectNothingAsync();
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 8081), Cluster("later", 8099), Listener("l1", 10000, "a"), Routes("r1", "b")));
        Assert.Equal(["later"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O10_ANamedRouteThatDoesNotExistYetIsNotAnsweredUntilItAppears()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        await client.RequestAsync(TypeUrls.Route, ["r2"]);
        await client.ExpectNothingAsync();
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b"), Routes("r2", "a")));
        Assert.Equal(["r2"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O11_NoRepeatedNames_AnyTypesMatch_NothingSentWhenNothingChanged()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var responses = new List<Envoy.Service.Discovery.V3.DiscoveryResponse>
        {
            await client.SubscribeAsync(TypeUrls.Cluster, "*", "a", "a"),
            await client.SubscribeAsync(TypeUrls.Endpoint, "a", "b", "a"),
            await client.SubscribeAsync(TypeUrls.Listener),
            await client.SubscribeAsync(TypeUrls.Route, "r1", "r1"),
        };
        foreach (var r in responses)
        {
            await client.AckAsync(r, r.TypeUrl == TypeUrls.Listener ? [] : r.TypeUrl == TypeUrls.Cluster ? ["*", "a"] : r.Names());
        }
        server.Set(Base()); // identical content, new objects
        await client.ExpectNothingAsync();
        foreach (var r in responses)
        {
            Assert.Equal(r.Names().Length, r.Names().Distinct().Count());
            Assert.All(r.Resources, any => Assert.Equal(r.TypeUrl, any.TypeUrl));
        }
    }

    [Fact]
    public async Task O12_AfterAClusterChangeTheNextEndpointRequestIsAnsweredEvenIfEndpointsDidNotChange()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        var eds = await client.SubscribeAsync(TypeUrls.Endpoint, "a", "b");
        await client.AckAsync(eds, ["a", "b"]);
        await client.ExpectNothingAsync();

        server.Set(Snap(Cluster("a", 8080, timeoutSeconds: 1), Cluster("b", 8081), Listener("l1", 10000, "a"), Routes("r1", "b")));
        var changed = await client.NextAsync();
        Assert.Equal(TypeUrls.Cluster, changed.TypeUrl);
        await client.AckAsync(changed);
        await client.ExpectNothingAsync();
        // Envoy re-creates cluster a, which warms and asks for its endpoints again (same names, current nonce).
        await client.AckAsync(eds, ["a", "b"]);
        var warmed = await client.NextAsync();
        Assert.Equal(TypeUrls.Endpoint, warmed.TypeUrl);
        Assert.Equal(["a"], warmed.Names());
        await client.AckAsync(warmed, ["a", "b"]);
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task O12_AcrossSeparateCdsAndEdsStreams()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var cdsClient = SotwClient.Cds(server.Channel);
        await using var edsClient = SotwClient.Eds(server.Channel);
        var cds = await cdsClient.SubscribeAsync(TypeUrls.Cluster);
        await cdsClient.AckAsync(cds);
        var eds = await edsClient.SubscribeAsync(TypeUrls.Endpoint, "a", "b");
        await edsClient.AckAsync(eds, ["a", "b"]);
        await XdsTestServer.EventuallyAsync(
            () => server.Engine.Connected().All(s => s.Types.All(t => t.Status == SyncStatus.Synced)), "both streams ACKed");
        server.Set(Snap(Cluster("a", 8080), Cluster("b", 8081, timeoutSeconds: 1), Listener("l1", 10000, "a"), Routes("r1", "b")));
        await cdsClient.AckAsync(await cdsClient.NextAsync());
        await edsClient.ExpectNothingAsync();
        await edsClient.AckAsync(eds, ["a", "b"]);
        Assert.Equal(["b"], (await edsClient.NextAsync()).Names());
    }

    [Fact]
    public async Task O13_AdsPushesClustersThenEndpointsThenListenersThenRoutes()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        // Subscribe in the "wrong" order; the push after a change must still be CDS, EDS, LDS, RDS.
        foreach (var (type, names) in new[] { (TypeUrls.Route, new[] { "r1" }), (TypeUrls.Listener, []), (TypeUrls.Endpoint, ["a", "b"]), (TypeUrls.Cluster, []) })
        {
            await client.AckAsync(await client.SubscribeAsync(type, names), names);
        }
        server.Set(Snap(Cluster("a", 7000, timeoutSeconds: 1), Cluster("b", 7001), Listener("l1", 10001, "a"), Routes("r1", "a")));
        var order = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            order.Add((await client.NextAsync()).TypeUrl);
        }
        Assert.Equal([TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener, TypeUrls.Route], order);
    }

    [Fact]
    public async Task O13_AfterRemovalsOnly_TheNextChangeIsTakenFromTheSnapshot_AndTheRemovedRoutesClusterStaysUntilRoutesAreAcked()
    {
        var first = Snap(Cluster("a"), Cluster("b"), Cluster("c"), Listener("l1", 10000, "a"), Routes("r1", "b"), Routes("r2", "c"), Routes("r3", "b"));
        await using var server = await XdsTestServer.StartAsync(first);
        await using var client = server.Ads();
        await client.AckAsync(await client.SubscribeAsync(TypeUrls.Cluster));
        await client.AckAsync(await client.SubscribeAsync(TypeUrls.Listener));
        string[] routes = ["r1", "r2", "r3"];
        await client.AckAsync(await client.SubscribeAsync(TypeUrls.Route, routes), routes);
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.All(t => t.Status == SyncStatus.Synced), "all ACKed");

        // r2 goes, and c, which only r2 used: nothing is sent (SotW does not signal a removed route; Envoy keeps it).
        var second = Change(first, [], (TypeUrls.Route, "r2"), (TypeUrls.Cluster, "c"), (TypeUrls.Endpoint, "c"));
        server.Set(second);
        await client.ExpectNothingAsync();

        // Then r3 and r1 change, in that order, and so does cluster a.
        server.Set(Change(second, [Routes("r3", "a"), Routes("r1", "a"), Cluster("a", timeoutSeconds: 9)]));
        var clusters = await client.NextAsync();
        Assert.Equal(TypeUrls.Cluster, clusters.TypeUrl);
        Assert.Equal(["a", "b", "c"], clusters.Names()); // c stays: the client still holds r2, which uses it
        var changed = await client.NextAsync();
        Assert.Equal(TypeUrls.Route, changed.TypeUrl);
        // The snapshot's own list of what changed since the set the stream holds, in its order: the removal did not
        // leave the stream to compare every route (a comparison lists them sorted).
        Assert.Equal(["r3", "r1"], changed.Names());
        await client.AckAsync(clusters);
        await client.ExpectNothingAsync();
        await client.AckAsync(changed, routes);
        var after = await client.NextAsync(); // break: c goes once the routes sent after r2's removal are ACKed
        Assert.Equal(TypeUrls.Cluster, after.TypeUrl);
        Assert.Equal(["a", "b"], after.Names());
    }

    [Fact]
    public async Task O13_AClusterIsRemovedOnlyAfterTheListenerThatUsedItWasUpdated()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old")));
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        var lds = await client.SubscribeAsync(TypeUrls.Listener);
        await client.AckAsync(lds);
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.All(t => t.Status == SyncStatus.Synced), "both ACKed");

        // The listener moves from "old" to "new", and "old" goes away.
        server.Set(Snap(Cluster("a"), Cluster("new"), Listener("l1", 10000, "new")));
        var clusters = await client.NextAsync();
        Assert.Equal(TypeUrls.Cluster, clusters.TypeUrl);
        Assert.Equal(["a", "new", "old"], clusters.Names()); // make: "new" added, "old" still used by the listener Envoy holds
        var listeners = await client.NextAsync();
        Assert.Equal(TypeUrls.Listener, listeners.TypeUrl);
        await client.AckAsync(clusters);
        await client.ExpectNothingAsync();
        await client.AckAsync(listeners);
        var after = await client.NextAsync(); // break: only after the listener update was ACKed
        Assert.Equal(TypeUrls.Cluster, after.TypeUrl);
        Assert.Equal(["a", "new"], after.Names());
    }
}
