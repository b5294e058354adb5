using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>Obligations 14-20 (incremental xDS), and 13 (make before break) over delta ADS.</summary>
public sealed class DeltaProtocolTests
{
    [Fact]
    public async Task O14_EveryDeltaResponseCarriesAFreshNonce()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Cluster);
        var nonces = new List<string> { (await client.NextAsync()).Nonce };
        server.Set(Snap(Cluster("a"), Cluster("b")));
        nonces.Add((await client.NextAsync()).Nonce);
        server.Set(Snap(Cluster("b")));
        var removal = await client.NextAsync();
        Assert.Equal(["a"], removal.RemovedResources);
        nonces.Add(removal.Nonce);
        Assert.All(nonces, n => Assert.False(string.IsNullOrEmpty(n)));
        Assert.Equal(3, nonces.Distinct().Count());
    }

    [Fact]
    public async Task O15_SubscriptionChangesApplyEvenWithAStaleNonce()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Endpoint, ["a"]);
        var first = await client.NextAsync();
        server.Set(Snap(Cluster("a", 9000), Cluster("b")));
        var second = await client.NextAsync();
        Assert.Equal(["a"], second.Names());
        await client.RequestAsync(TypeUrls.Endpoint, ["b"], nonce: first.Nonce); // stale nonce
        Assert.Equal(["b"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O16_EveryNameInSubscribeIsSentEvenIfTheClientHasIt()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Endpoint, ["a"]);
        var first = await client.NextAsync();
        await client.AckAsync(first);
        await client.ExpectNothingAsync();
        await client.RequestAsync(TypeUrls.Endpoint, ["a"], nonce: first.Nonce);
        Assert.Equal(["a"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task O17_SubscribingToANameThatDoesNotExistReturnsItAsRemoved_AndTheSubscriptionStays()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "ghost"]);
        var first = await client.NextAsync();
        Assert.Equal(["a"], first.Names());
        Assert.Equal(["ghost"], first.RemovedResources);
        await client.AckAsync(first);
        await client.ExpectNothingAsync();
        server.Set(Snap(Cluster("a"), Cluster("ghost")));
        var appeared = await client.NextAsync();
        Assert.Equal(["ghost"], appeared.Names());
        Assert.Empty(appeared.RemovedResources);
    }

    [Fact]
    public async Task O18_DeletedResourcesAreRemoved_UnchangedOnesAreNotResent()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b"), Cluster("c")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Cluster);
        var first = await client.NextAsync();
        Assert.Equal(["a", "b", "c"], first.Names());
        await client.AckAsync(first);
        server.Set(Snap(Cluster("a", timeoutSeconds: 1), Cluster("b"), Cluster("c")));
        var changed = await client.NextAsync();
        Assert.Equal(["a"], changed.Names());
        Assert.Empty(changed.RemovedResources);
        await client.AckAsync(changed);
        server.Set(Snap(Cluster("a", timeoutSeconds: 1), Cluster("c")));
        var removed = await client.NextAsync();
        Assert.Empty(removed.Resources);
        Assert.Equal(["b"], removed.RemovedResources);
        // The explicit subscription case: a named CLA that is deleted.
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "c"]);
        var eds = await client.NextAsync();
        Assert.Equal(["a", "c"], eds.Names());
        server.Set(Snap(Cluster("a", timeoutSeconds: 1)));
        var responses = new[] { await client.NextAsync(), await client.NextAsync() };
        Assert.Equal(["c"], responses.Single(r => r.TypeUrl == TypeUrls.Endpoint).RemovedResources);
        Assert.Equal(["c"], responses.Single(r => r.TypeUrl == TypeUrls.Cluster).RemovedResources);
    }

    [Fact]
    public async Task O19_UnsubscribingFromAnUnknownNameIsHarmless_AndAnUnsubscribeOnlyRequestNeedsNoReply()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "b"]);
        var first = await client.NextAsync();
        await client.RequestAsync(TypeUrls.Endpoint, unsubscribe: ["never-heard-of-it"], nonce: first.Nonce);
        await client.ExpectNothingAsync();
        await client.RequestAsync(TypeUrls.Endpoint, unsubscribe: ["b"], nonce: first.Nonce);
        await client.ExpectNothingAsync();
        // The stream still works and b is really unsubscribed.
        server.Set(Snap(Cluster("a", 9000), Cluster("b", 9001)));
        var next = await client.NextAsync();
        Assert.Equal(["a"], next.Names());
    }

    [Fact]
    public async Task O19_UnsubscribingANameStillCoveredByTheWildcardIsAnswered()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Cluster, ["*", "a"]);
        var first = await client.NextAsync();
        Assert.Equal(["a", "b"], first.Names());
        await client.RequestAsync(TypeUrls.Cluster, unsubscribe: ["a"], nonce: first.Nonce);
        var reply = await client.NextAsync();
        Assert.Equal(["a"], reply.Names());
    }

    [Fact]
    public async Task O20_OnReconnectMatchingVersionsAreNotResent_ChangedAreSent_GoneAreRemoved()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b"), Cluster("c")));
        Dictionary<string, string> held;
        await using (var first = server.DeltaAds())
        {
            await first.RequestAsync(TypeUrls.Cluster);
            held = (await first.NextAsync()).Resources.ToDictionary(r => r.Name, r => r.Version);
        }
        server.Set(Snap(Cluster("a", timeoutSeconds: 1), Cluster("b"), Cluster("d")));
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Cluster, initialVersions: held);
        var response = await client.NextAsync();
        Assert.Equal(["a", "d"], response.Names());
        Assert.Equal(["c"], response.RemovedResources);
        await client.AckAsync(response);
        await client.ExpectNothingAsync();
    }

    [Fact]
    public async Task O20_ReconnectWithEverythingCurrentGetsNothing()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a"), Cluster("b")));
        Dictionary<string, string> held;
        await using (var first = server.DeltaAds())
        {
            await first.RequestAsync(TypeUrls.Endpoint, ["a", "b"]);
            held = (await first.NextAsync()).Resources.ToDictionary(r => r.Name, r => r.Version);
        }
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Endpoint, ["a", "b"], initialVersions: held);
        await client.ExpectNothingAsync();
    }
    [Fact]
    public async Task O13_AClusterIsRemovedOnlyAfterTheListenerThatUsedItWasAcked()
    {
        var first = Snap(Cluster("a"), Cluster("old"), Listener("l1", 10000, "old"));
        await using var server = await XdsTestServer.StartAsync(first);
        await using var client = server.DeltaAds();
        await client.RequestAsync(TypeUrls.Cluster);
        await client.AckAsync(await client.NextAsync());
        await client.RequestAsync(TypeUrls.Listener);
        await client.AckAsync(await client.NextAsync());
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.All(t => t.Status == SyncStatus.Synced), "both ACKed");

        // The listener moves from "old" to "new", and "old" goes away.
        server.Set(Change(first, [Cluster("new"), Listener("l1", 10000, "new")], (TypeUrls.Cluster, "old"), (TypeUrls.Endpoint, "old")));
        var clusters = await client.NextAsync();
        Assert.Equal(TypeUrls.Cluster, clusters.TypeUrl);
        Assert.Equal(["new"], clusters.Names());
        Assert.Empty(clusters.RemovedResources); // make: "old" stays while the listener Envoy holds uses it
        var listeners = await client.NextAsync();
        Assert.Equal(TypeUrls.Listener, listeners.TypeUrl);
        await client.AckAsync(clusters);
        await client.ExpectNothingAsync();
        await client.AckAsync(listeners);
        var after = await client.NextAsync(); // break: only after the listener update was ACKed
        Assert.Equal(TypeUrls.Cluster, after.TypeUrl);
        Assert.Empty(after.Resources);
        Assert.Equal(["old"], after.RemovedResources);
    }
}
