using Xunit.Abstractions;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>Bursts of events become a handful of inventories; the clock is the test's.</summary>
public sealed class CoalescingTests(ITestOutputHelper output)
{
    private static readonly KubernetesSourceOptionsFixture Options = new();

    [Fact]
    public async Task BurstOf500Events_BecomesAFewInventories_AndTheLastIsCurrent()
    {
        var time = new ManualTimeProvider();
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start(Options.Value, time);

        await AdvanceUntilAsync(time, () => h.Sink.All.Count == 1, "the first inventory");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");

        // 500 changes to one Cluster, 10 at a time, 30 ms of (test) time apart: 1.5 s of constant churn.
        var events = 0L;
        for (var batch = 0; batch < 50; batch++)
        {
            for (var i = 0; i < 10; i++)
            {
                var n = (batch * 10) + i;
                h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", $"10.0.{n / 256}.{n % 256}/32"));
            }
            events += 10;
            var expected = events;
            await Wait.UntilAsync(() => h.Informer("clusters").Events >= expected, $"{expected} events received");
            time.Advance(TimeSpan.FromMilliseconds(30));
        }
        await AdvanceUntilAsync(time, () => h.Sink.Latest!.Clusters[0].Spec!.ApiServerAllowedIPRanges!.CidrBlocks![0] == "10.0.1.243/32", "the last change");
        await Task.Delay(100);
        time.Advance(TimeSpan.FromSeconds(5));
        await Task.Delay(100);

        var afterFirst = h.Sink.All.Count - 1;
        output.WriteLine($"500 events → {afterFirst} inventories");
        // max delay 1 s in 1.5 s of churn: one forced inventory mid-burst, one after it; never one per event
        Assert.InRange(afterFirst, 1, 4);
        Assert.Equal(500, h.Informer("clusters").Events);
        Assert.Equal(h.Sink.All.Count, h.Source.GetStatus().InventoriesPublished);
    }

    [Fact]
    public async Task FirstInventory_IsPublishedOnceEveryInformerHasListed_WithoutWaitingForTheDebounce()
    {
        var time = new ManualTimeProvider();
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        var clustersListed = new TaskCompletionSource();
        h.Server.HoldLists("clusters", clustersListed.Task);
        h.Start(Options.Value with { Debounce = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(2) }, time);

        await Wait.UntilAsync(() => h.Source.GetStatus().Informers.Count(i => i.HasSynced) == 4, "every informer but clusters listed");
        await Task.Delay(200);
        Assert.Empty(h.Sink.All); // never a partial seed
        clustersListed.SetResult();

        // The test's clock never moves: a debounce of a minute would hold it back until the test gave up.
        var first = await h.Sink.WaitForAsync(_ => true, "the first inventory");
        Assert.Equal("a1", Assert.Single(first.Clusters).Metadata.Name);
        Assert.Single(h.Sink.All);

        // After it, changes wait for the debounce again.
        h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", "10.9.0.0/16"));
        await Wait.UntilAsync(() => h.Informer("clusters").Events == 1, "the change received");
        await Task.Delay(200);
        Assert.Single(h.Sink.All);
        time.Advance(TimeSpan.FromMinutes(1));
        await h.Sink.WaitForAsync(i => i.Clusters[0].Spec!.ApiServerAllowedIPRanges!.CidrBlocks![0] == "10.9.0.0/16", "the change, after the debounce");
    }

    [Fact]
    public async Task AChangeAfterAQuietSpell_IsPublishedAtOnce_AndTheChangesRightAfterItWaitForTheDebounce()
    {
        var time = new ManualTimeProvider();
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start(Options.Value with { Debounce = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(2) }, time);
        await h.Sink.WaitForAsync(_ => true, "the first inventory");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");

        // Quiet minutes (in steps, so that a wake-up the informers' start may have caused has run out), then one edit:
        // handed over without the clock moving (no debounce on the leading edge).
        for (var minute = 0; minute < 3; minute++)
        {
            time.Advance(TimeSpan.FromMinutes(1));
            await Task.Delay(100);
        }
        var before = h.Sink.All.Count;
        h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", "10.8.0.0/16"));
        await h.Sink.WaitForAsync(i => i.Clusters[0].Spec?.ApiServerAllowedIPRanges?.CidrBlocks?.FirstOrDefault() == "10.8.0.0/16", "the edit, at once");
        Assert.Equal(before + 1, h.Sink.All.Count);

        // The next edit comes within the debounce of that inventory: a burst may be under way, so it waits.
        h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", "10.9.0.0/16"));
        await Wait.UntilAsync(() => h.Informer("clusters").Events == 2, "the second edit received");
        await Task.Delay(200);
        Assert.Equal(before + 1, h.Sink.All.Count);
        time.Advance(TimeSpan.FromMinutes(1));
        await h.Sink.WaitForAsync(i => i.Clusters[0].Spec?.ApiServerAllowedIPRanges?.CidrBlocks?.FirstOrDefault() == "10.9.0.0/16", "the second edit, after the debounce");
    }

    [Fact]
    public async Task MaxDelay_PublishesDuringAnEndlessBurst()
    {
        var time = new ManualTimeProvider();
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start(Options.Value, time);
        await Wait.UntilAsync(() => h.Source.HasSynced, "informers synced");
        await AdvanceUntilAsync(time, () => h.Sink.All.Count == 1, "the first inventory");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");

        // A change every 50 ms (under the 100 ms debounce) for 1.2 s: only the 1 s cap can publish.
        for (var n = 0; n < 24; n++)
        {
            h.Server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", $"10.1.0.{n}/32"));
            var expected = n + 1;
            await Wait.UntilAsync(() => h.Informer("clusters").Events >= expected, $"{expected} events received");
            time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(5);
        }
        await Wait.UntilAsync(() => h.Sink.All.Count >= 2, "an inventory forced by the max delay while changes kept coming");
        Assert.Equal(2, h.Sink.All.Count);
    }

    private static async Task AdvanceUntilAsync(ManualTimeProvider time, Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for: {what}");
            }
            time.Advance(TimeSpan.FromMilliseconds(20));
            await Task.Delay(10);
        }
    }

    private sealed class KubernetesSourceOptionsFixture
    {
        public Sources.Kubernetes.Watch.KubernetesSourceOptions Value { get; } = SourceHarness.TestOptions with
        {
            Debounce = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromSeconds(1),
            WatchdogTimeout = TimeSpan.FromMinutes(10),
        };
    }
}
