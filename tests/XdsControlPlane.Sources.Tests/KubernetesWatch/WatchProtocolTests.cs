using System.Globalization;
using Xunit.Abstractions;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>The informers' list/watch protocol against the stand-in, one failure mode per test.</summary>
public sealed class WatchProtocolTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task InitialSync_NothingIsPublishedUntilEveryInformerHasListed()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1", "203.0.113.0/24");
        var release = new TaskCompletionSource();
        h.Server.HoldLists("endpointslices", release.Task);

        h.Start();
        await Wait.UntilAsync(() => h.Informer("clusters").HasSynced && h.Informer("services").HasSynced && h.Informer("seeds").HasSynced, "three informers synced");
        await Task.Delay(300); // many debounce periods: a partial seed would have been published by now
        Assert.Empty(h.Sink.All);
        Assert.False(h.Source.HasSynced);
        Assert.Null(h.Source.Current);

        release.SetResult();
        var first = await h.Sink.WaitForAsync(i => true, "a first inventory", Patience);
        Assert.Single(first.Seeds);
        Assert.Single(first.Clusters);
        Assert.Single(first.Services);
        Assert.Single(first.EndpointSlices);
        Assert.Single(h.Sink.All);
        Assert.True(h.Source.GetStatus().Synced);
    }

    [Fact]
    public async Task AddModifyDelete_ConvergeAndUnexposedServicesAreIgnored()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1", "203.0.113.0/24");
        h.Server.Upsert("services", Objects.UnexposedService("kube-system", "dns"));
        h.Start();
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "tenant a1");
        Assert.Single(h.Sink.Latest!.Services); // the unexposed one is filtered out

        Objects.AddTenant(h.Server, "b2");
        h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", "198.51.100.0/24"));
        await h.Sink.WaitForAsync(
            i => i.Clusters.Count == 2 && i.Clusters.Single(c => c.Metadata.Name == "a1").Spec!.ApiServerAllowedIPRanges!.CidrBlocks!.SequenceEqual(["198.51.100.0/24"]),
            "b2 added and a1 modified");

        h.Server.Delete("clusters", null, "a1");
        h.Server.Delete("services", "cluster-a1", "apiserver-external");
        var last = await h.Sink.WaitForAsync(i => i.Clusters.Count == 1 && i.Services.Count == 1, "a1 deleted");
        Assert.Equal("b2", last.Clusters[0].Metadata.Name);
        Assert.Equal("cluster-b2", last.Services[0].Metadata.NamespaceProperty);
        // the slice of a1's deleted Service is not served, although the slice still exists
        Assert.Equal(["cluster-b2"], last.EndpointSlices.Select(s => s.Metadata.NamespaceProperty));

        // a Service that loses the expose annotation leaves the inventory
        var svc = Objects.ApiServerService("b2");
        svc.Metadata.Annotations.Remove(Sources.Kubernetes.Annotations.DefaultExposeKey);
        h.Server.Upsert("services", svc);
        await h.Sink.WaitForAsync(i => i.Services.Count == 0, "b2's Service no longer exposed");
        Assert.Equal(0, h.Informer("clusters").WatchRestarts);
        Assert.Equal(0, h.Informer("clusters").Relists);
    }

    [Fact]
    public async Task Bookmark_AdvancesTheResourceVersionOfTheNextWatch()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start();
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "tenant a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");
        var firstWatch = h.Server.WatchRequests("clusters").Single();
        Assert.Equal("true", firstWatch.Query["allowWatchBookmarks"]);
        var timeoutSeconds = int.Parse(firstWatch.Query["timeoutSeconds"], CultureInfo.InvariantCulture);
        Assert.InRange(timeoutSeconds, 60, 120);

        // Other resources move the global resourceVersion on; the clusters watch learns of it only by bookmark.
        for (var i = 0; i < 5; i++)
        {
            h.Server.Upsert("services", Objects.UnexposedService("other", $"svc-{i}"));
        }
        var bookmark = h.Server.SendBookmark("clusters").ToString(CultureInfo.InvariantCulture);
        await Wait.UntilAsync(() => h.Informer("clusters").ResourceVersion == bookmark, "bookmark applied");
        Assert.Equal(1, h.Informer("clusters").Bookmarks);

        h.Server.DropWatches("clusters");
        await Wait.UntilAsync(() => h.Server.WatchRequests("clusters").Count == 2, "clusters re-watched");
        Assert.Equal(bookmark, h.Server.WatchRequests("clusters")[1].ResourceVersion);
        Assert.Equal(0, h.Informer("clusters").Relists);
    }

    [Fact]
    public async Task GoneAsErrorEvent_RelistsAndSynthesisesDeletesForObjectsThatVanished()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        Objects.AddTenant(h.Server, "b2");
        h.Start();
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "a1 and b2");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");

        // While the watch "missed" them: b2 deleted, c3 created, a1 changed; then history is compacted.
        h.Server.Delete("clusters", null, "b2", silently: true);
        h.Server.Upsert("clusters", Objects.Cluster("c3"), silently: true);
        h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", "192.0.2.0/24"), silently: true);
        h.Server.Compact();
        h.Server.SendError("clusters", 410, "Expired");

        var after = await h.Sink.WaitForAsync(i => i.Clusters.Select(c => c.Metadata.Name).SequenceEqual(["a1", "c3"]), "b2 gone, c3 present");
        Assert.Equal(["192.0.2.0/24"], after.Clusters[0].Spec!.ApiServerAllowedIPRanges!.CidrBlocks!);
        var status = h.Informer("clusters");
        Assert.Equal(1, status.Gone);
        Assert.Equal(1, status.Relists);
        Assert.Equal(1, status.SynthesizedDeletes);
        Assert.Equal(1, h.Logger.Count("WatchGone"));
        // after the re-list, the watch resumes from the list's resourceVersion
        await Wait.UntilAsync(() => h.Server.WatchRequests("clusters").Count == 2, "clusters re-watched");
        Assert.Equal(status.ResourceVersion, h.Server.WatchRequests("clusters")[1].ResourceVersion);
    }

    [Theory]
    [InlineData(false)] // HTTP 410 on the watch request
    [InlineData(true)]  // 200, then an ERROR 410 as the very first line
    public async Task GoneWhenResumingAfterADroppedConnection_Relists(bool asFirstErrorEvent)
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.GoneAsErrorEvent = asFirstErrorEvent;
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        Objects.AddTenant(h.Server, "b2");
        h.Start();
        await h.Sink.WaitForAsync(i => i.Services.Count == 2, "two services");
        // two watches of services: the exposed ones, and the nodeport-proxy's own Service
        await Wait.UntilAsync(() => h.Server.OpenWatches("services") == 2, "services watched");

        h.Server.Delete("services", "cluster-a1", "apiserver-external", silently: true);
        h.Server.Compact();
        h.Server.DropWatches("services"); // the re-watch from the old resourceVersion gets 410

        var after = await h.Sink.WaitForAsync(i => i.Services.Count == 1, "a1's Service gone");
        Assert.Equal("cluster-b2", after.Services[0].Metadata.NamespaceProperty);
        var status = h.Informer("services");
        Assert.Equal(1, status.Gone);
        Assert.Equal(1, status.Relists);
        Assert.Equal(1, status.SynthesizedDeletes);
        Assert.Equal(1, status.WatchRestarts); // the dropped connection
    }

    [Fact]
    public async Task DroppedConnection_ResumesFromTheLastResourceVersionWithoutRelisting()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start();
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");

        var lastSeen = h.Server.Upsert("clusters", Objects.Cluster("b2")).ToString(CultureInfo.InvariantCulture);
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2");
        h.Server.DropWatches("clusters");
        // changes while disconnected stay in the server's history and are replayed on resume
        h.Server.Upsert("clusters", Objects.Cluster("c3"));
        h.Server.Delete("clusters", null, "a1");

        var after = await h.Sink.WaitForAsync(i => i.Clusters.Select(c => c.Metadata.Name).SequenceEqual(["b2", "c3"]), "c3 added and a1 deleted after resuming");
        var watches = h.Server.WatchRequests("clusters");
        Assert.Equal(lastSeen, watches[1].ResourceVersion);
        var status = h.Informer("clusters");
        Assert.True(status.WatchRestarts >= 1);
        Assert.Equal(0, status.Relists);
        Assert.Equal(0, status.Gone);
        Assert.Equal(2, after.Clusters.Count);
    }

    [Fact]
    public async Task NamespaceOption_WatchesServicesAndSlicesOfThatNamespaceOnly()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        Objects.AddTenant(h.Server, "b2");
        h.Start(SourceHarness.TestOptions with { Namespace = "cluster-b2" });
        var inventory = await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "both clusters");
        Assert.Equal(["cluster-b2"], inventory.Services.Select(s => s.Metadata.NamespaceProperty));
        Assert.Equal(["cluster-b2"], inventory.EndpointSlices.Select(s => s.Metadata.NamespaceProperty));
        // (the nodeport-proxy's own Service is read in its namespace, by name, whatever -namespace says)
        Assert.All(h.Server.Requests.Where(r => r.Resource is "services" or "endpointslices" && !r.Query.ContainsKey("fieldSelector")),
            r => Assert.Equal("cluster-b2", r.Namespace));
        Assert.All(h.Server.Requests.Where(r => r.Query.ContainsKey("fieldSelector")), r =>
        {
            Assert.Equal(("services", "kubermatic", "metadata.name=nodeport-proxy"), (r.Resource, r.Namespace, r.Query["fieldSelector"]));
        });
        Assert.All(h.Server.Requests.Where(r => r.Resource == "endpointslices"), r => Assert.Equal("kubernetes.io/service-name", r.Query["labelSelector"]));
        Assert.All(h.Server.Requests.Where(r => r.Resource == "seeds"), r => Assert.Equal("kubermatic", r.Namespace));
        Assert.All(h.Server.Requests.Where(r => r.Resource == "clusters"), r => Assert.Null(r.Namespace));
    }

    [Fact]
    public async Task LargeLists_AreReadInPages()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        for (var i = 0; i < 25; i++)
        {
            h.Server.Upsert("clusters", Objects.Cluster($"c{i:D2}"));
        }
        h.Start(SourceHarness.TestOptions with { ListPageSize = 10 });
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 25, "all 25 clusters");
        var lists = h.Server.Requests.Where(r => r.Resource == "clusters" && !r.IsWatch).ToList();
        Assert.Equal(3, lists.Count);
        Assert.All(lists, r => Assert.Equal("10", r.Query["limit"]));
        Assert.False(lists[0].Query.ContainsKey("continue"));
        Assert.True(lists[2].Query.ContainsKey("continue"));
    }

    [Fact]
    public async Task WatchAsyncStream_YieldsInventoriesUntilCancelled()
    {
        await using var server = await FakeApiServer.StartAsync();
        server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(server, "a1");
        var source = new Sources.Kubernetes.Watch.KubernetesSource(server.CreateClient(), SourceHarness.TestOptions, new RecordingLogger(output));
        using var cts = new CancellationTokenSource(Patience);
        var seen = new List<int>();
        await foreach (var inventory in source.WatchAsync(cts.Token))
        {
            seen.Add(inventory.Clusters.Count);
            if (seen.Count == 1)
            {
                server.Upsert("clusters", Objects.Cluster("b2"));
            }
            else if (inventory.Clusters.Count == 2)
            {
                break; // leaving the loop stops the source
            }
        }
        // The first inventory has a1 alone and the loop ends on the one with b2. Under load the source may publish
        // a1 alone more than once before b2's event arrives (a watch event of the initial objects after a coalescing
        // period): never fewer clusters, never a third one.
        Assert.Equal(1, seen[0]);
        Assert.Equal(2, seen[^1]);
        Assert.All(seen[..^1], count => Assert.Equal(1, count));
        Assert.False(cts.IsCancellationRequested);
    }

    [Fact]
    public void Backoff_DoublesPerFailure_IsCapped_AndJittered()
    {
        var initial = TimeSpan.FromMilliseconds(500);
        var max = TimeSpan.FromSeconds(30);
        Assert.Equal(TimeSpan.FromMilliseconds(250), Sources.Kubernetes.Watch.WatchBackoff.Delay(1, initial, max, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(500), Sources.Kubernetes.Watch.WatchBackoff.Delay(1, initial, max, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(1000), Sources.Kubernetes.Watch.WatchBackoff.Delay(3, initial, max, 0));
        Assert.Equal(TimeSpan.FromSeconds(15), Sources.Kubernetes.Watch.WatchBackoff.Delay(10, initial, max, 0));
        Assert.Equal(TimeSpan.FromSeconds(30), Sources.Kubernetes.Watch.WatchBackoff.Delay(1000, initial, max, 1));
    }
}
