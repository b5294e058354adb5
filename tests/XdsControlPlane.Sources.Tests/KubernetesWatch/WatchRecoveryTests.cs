using Microsoft.Extensions.Logging;
using System.Globalization;
using Xunit.Abstractions;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>Watches that hang, end, or fail with something other than 410.</summary>
public sealed class WatchRecoveryTests(ITestOutputHelper output)
{
    [Fact]
    public async Task HungWatch_IsRestartedByTheWatchdogFromTheLastResourceVersion()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start(SourceHarness.TestOptions with { WatchdogTimeout = TimeSpan.FromMilliseconds(600) });
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");
        var lastSeen = h.Informer("clusters").ResourceVersion;

        // The next clusters watch is accepted (200, headers) and then says nothing, like a connection a middlebox forgot.
        h.Server.EnqueueWatchMode("clusters", WatchMode.Hang);
        var before = h.Server.WatchRequests("clusters").Count;
        h.Server.DropWatches("clusters");
        await Wait.UntilAsync(() => h.Server.WatchRequests("clusters").Count == before + 1, "the hanging watch requested");
        h.Server.Upsert("clusters", Objects.Cluster("b2"));

        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2 after the watchdog restarted the hung watch");
        var status = h.Informer("clusters");
        Assert.True(status.WatchdogRestarts >= 1, $"watchdog restarts: {status.WatchdogRestarts}");
        Assert.Equal(0, status.Relists);
        Assert.True(h.Logger.Count("WatchdogFired") >= 1);
        var watches = h.Server.WatchRequests("clusters");
        Assert.Equal(lastSeen, watches[before].ResourceVersion);      // the hung one
        Assert.Equal(lastSeen, watches[before + 1].ResourceVersion);  // the restart resumes where it stood
    }

    [Fact]
    public async Task WatchClosedByTheServerTimeout_IsResumedWithoutRelistOrBackoff()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start(SourceHarness.TestOptions with { WatchTimeout = TimeSpan.FromSeconds(1) });
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        // timeoutSeconds 1..2: the stand-in ends the stream (no events were sent on it), the informer asks again
        await Wait.UntilAsync(() => h.Server.WatchRequests("clusters").Count >= 2, "clusters re-watched after the server timeout", TimeSpan.FromSeconds(8));
        var first = h.Server.WatchRequests("clusters")[0];
        Assert.InRange(int.Parse(first.Query["timeoutSeconds"], CultureInfo.InvariantCulture), 1, 2);
        h.Server.Upsert("clusters", Objects.Cluster("b2"));
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2 on the new watch");
        var status = h.Informer("clusters");
        Assert.Equal(0, status.Relists);
        Assert.Equal(0, status.WatchRestarts);
        Assert.Equal(first.ResourceVersion, h.Server.WatchRequests("clusters")[1].ResourceVersion);
    }

    [Fact]
    public async Task ErrorEventOtherThanGone_RestartsTheWatchWithoutRelisting()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start();
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");

        h.Server.SendError("clusters", 500, "InternalError");
        await Wait.UntilAsync(() => h.Server.WatchRequests("clusters").Count == 2, "clusters re-watched");
        h.Server.Upsert("clusters", Objects.Cluster("b2"));
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2");
        var status = h.Informer("clusters");
        Assert.Equal(1, status.WatchRestarts);
        Assert.Equal(0, status.Gone);
        Assert.Equal(0, status.Relists);
        Assert.Contains("InternalError", status.LastError ?? "", StringComparison.Ordinal);
        AssertOneLineWarningAndDetailAtDebug(h.Logger, "WatchFailed", "InternalError");
    }

    /// <summary>
    /// Logs for people: an expected failure is one short line at Warning that says what happened, with no exception
    /// (a 20 s outage once wrote 131 KB of stack traces); the exception goes to FailureDetail at Debug.
    /// </summary>
    private static void AssertOneLineWarningAndDetailAtDebug(RecordingLogger logger, string eventName, string reason)
    {
        var warning = logger.Entries.First(e => e.EventName == eventName);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(reason, warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', warning.Message);
        Assert.True(warning.Message.Length < 500, warning.Message);
        Assert.All(logger.Exceptions.Where(e => e.EventName == eventName), e => Assert.Null(e.Exception));
        Assert.All(logger.Exceptions.Where(e => e.Exception is not null && e.EventName != "InventoryConsumerFailed"),
            e => Assert.Equal(LogLevel.Debug, e.Level));
        Assert.Contains(logger.Exceptions, e => e is { EventName: "FailureDetail", Level: LogLevel.Debug, Exception: not null });
    }

    [Fact]
    public async Task ListFailure_IsRetriedWithBackoffAndThenSyncs()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Server.FailLists("seeds", 3);
        h.Start();
        await h.Sink.WaitForAsync(i => i.Seeds.Count == 1 && i.Clusters.Count == 1, "synced after three failed lists");
        Assert.Equal(3, h.Logger.Count("ListFailed"));
        AssertOneLineWarningAndDetailAtDebug(h.Logger, "ListFailed", "500");
        Assert.Single(h.Sink.All);
    }

    [Fact]
    public async Task GoneRightAfterEveryList_IsRetriedWithBackoffAndRecovers()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        for (var i = 0; i < 3; i++)
        {
            h.Server.EnqueueWatchMode("clusters", WatchMode.HttpGone);
        }
        h.Start();
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters finally watched");
        h.Server.Upsert("clusters", Objects.Cluster("b2"));
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2");
        var status = h.Informer("clusters");
        Assert.Equal(3, status.Gone);
        Assert.Equal(3, status.Relists);
        Assert.Equal(0, status.SynthesizedDeletes);
    }
}
