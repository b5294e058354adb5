using k8s.Models;
using Xunit.Abstractions;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

public sealed class ClusterEventRecorderTests(ITestOutputHelper output)
{
    [Fact]
    public async Task InvalidAllowlist_BecomesAWarningEventOnTheKkpCluster_AndNothingElseIsWritten()
    {
        await using var server = await FakeApiServer.StartAsync();
        var inventory = Inventory(("a1", "10.0.0.1/8"), ("b2", "192.0.2.0/24"));
        var translated = InventoryTranslator.Translate(inventory);
        var recorder = new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output));
        var extra = new Diagnostic(DiagnosticSeverity.Warning, "Unenforceable", "Cluster/ghost", "", "no such cluster object", "ghost");

        var result = await recorder.RecordAsync(inventory, [.. translated.Diagnostics, extra], CancellationToken.None);

        Assert.Equal(new EventRecordResult(Created: 1, Updated: 0, Unchanged: 0, NoClusterObject: 1, Failed: 0), result);
        var ev = Assert.Single(server.Objects("events"));
        Assert.Equal("default", ev["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("Warning", ev["type"]!.GetValue<string>());
        Assert.Equal("InvalidCidr", ev["reason"]!.GetValue<string>());
        Assert.Equal(1, ev["count"]!.GetValue<int>());
        var involved = ev["involvedObject"]!;
        Assert.Equal("kubermatic.k8c.io/v1", involved["apiVersion"]!.GetValue<string>());
        Assert.Equal("Cluster", involved["kind"]!.GetValue<string>());
        Assert.Equal("a1", involved["name"]!.GetValue<string>());
        Assert.Equal("uid-a1", involved["uid"]!.GetValue<string>());
        var message = ev["message"]!.GetValue<string>();
        Assert.Contains("spec.apiServerAllowedIPRanges.cidrBlocks[0]", message, StringComparison.Ordinal);
        Assert.Contains("10.0.0.1/8", message, StringComparison.Ordinal);
        Assert.Equal("nodeport-proxy-xds", ev["source"]!["component"]!.GetValue<string>());
        // only Events are ever written: nothing KKP owns
        Assert.All(server.Requests.Where(r => r.Method != "GET"), r => Assert.Equal("events", r.Resource));
        Assert.Empty(server.Failures);
    }

    [Fact]
    public async Task SameProblem_IsNotRepeated_ThenCountedPerIntervalAndOnReturn()
    {
        var time = new ManualTimeProvider();
        await using var server = await FakeApiServer.StartAsync();
        var inventory = Inventory(("a1", "10.0.0.1/8"));
        var diagnostics = InventoryTranslator.Translate(inventory).Diagnostics;
        var recorder = new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output), new ClusterEventRecorderOptions { RepeatInterval = TimeSpan.FromMinutes(10) }, time);

        for (var i = 0; i < 5; i++)
        {
            await recorder.RecordAsync(inventory, diagnostics, CancellationToken.None); // every publish, the same problem
            time.Advance(TimeSpan.FromSeconds(30));
        }
        Assert.Equal(1, Count(server));
        Assert.Single(server.Requests, r => r.Method == "POST");
        Assert.DoesNotContain(server.Requests, r => r.Method == "PATCH");

        time.Advance(TimeSpan.FromMinutes(10));
        var result = await recorder.RecordAsync(inventory, diagnostics, CancellationToken.None);
        Assert.Equal(1, result.Updated);
        Assert.Equal(2, Count(server));

        // fixed, then broken again a minute later: counted at once
        await recorder.RecordAsync(inventory, [], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        await recorder.RecordAsync(inventory, diagnostics, CancellationToken.None);
        Assert.Equal(3, Count(server));
        Assert.Single(server.Objects("events"));
        Assert.Empty(server.Failures);
    }

    [Fact]
    public async Task RestartedRecorder_FindsItsEventAgainInsteadOfCreatingAnother()
    {
        await using var server = await FakeApiServer.StartAsync();
        var inventory = Inventory(("a1", "10.0.0.1/8"));
        var diagnostics = InventoryTranslator.Translate(inventory).Diagnostics;
        await new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output)).RecordAsync(inventory, diagnostics, CancellationToken.None);

        var restarted = new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output));
        var result = await restarted.RecordAsync(inventory, diagnostics, CancellationToken.None);

        Assert.Equal(1, result.Updated);
        Assert.Single(server.Objects("events"));
        Assert.Equal(2, Count(server));
        Assert.Empty(server.Failures);
    }

    [Fact]
    public async Task AMissingSeed_IsAWarningEventOnTheSeed_InTheSeedsNamespace()
    {
        await using var server = await FakeApiServer.StartAsync();
        var inventory = new SeedInventory([], [], [], []);
        var translated = InventoryTranslator.Translate(inventory, new TranslationOptions { SeedName = "europe-west" });
        var recorder = new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output),
            new ClusterEventRecorderOptions { SeedNamespace = "kubermatic", SeedName = "europe-west" });

        await recorder.RecordAsync(inventory, translated.Diagnostics, CancellationToken.None);

        var ev = Assert.Single(server.Objects("events"));
        Assert.Equal("kubermatic", ev["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("SeedMissing", ev["reason"]!.GetValue<string>());
        Assert.Equal("Warning", ev["type"]!.GetValue<string>());
        Assert.Equal("Seed", ev["involvedObject"]!["kind"]!.GetValue<string>());
        Assert.Equal("europe-west", ev["involvedObject"]!["name"]!.GetValue<string>());
        Assert.Equal("kubermatic", ev["involvedObject"]!["namespace"]!.GetValue<string>());
        Assert.Empty(server.Failures);
    }

    [Fact]
    public async Task ANodePortProxyServiceThatLosesClientAddresses_IsAWarningEventOnThatService()
    {
        await using var server = await FakeApiServer.StartAsync();
        var proxy = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "nodeport-proxy", NamespaceProperty = "kubermatic", Uid = "uid-npp" },
            Spec = new V1ServiceSpec { Type = "LoadBalancer", ExternalTrafficPolicy = "Cluster" },
        };
        var inventory = new SeedInventory([Objects.Seed()], [], [proxy], []);
        var translated = InventoryTranslator.Translate(inventory);
        var recorder = new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output));

        await recorder.RecordAsync(inventory, translated.Diagnostics, CancellationToken.None);

        var ev = Assert.Single(server.Objects("events"));
        Assert.Equal("kubermatic", ev["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("SourceIpNotPreserved", ev["reason"]!.GetValue<string>());
        Assert.Equal(("Service", "nodeport-proxy", "uid-npp"),
            (ev["involvedObject"]!["kind"]!.GetValue<string>(), ev["involvedObject"]!["name"]!.GetValue<string>(), ev["involvedObject"]!["uid"]!.GetValue<string>()));
        Assert.Contains("externalTrafficPolicy: Local", ev["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFullQueueDropsTheOldestAndCountsIt_TheNewestIsWritten()
    {
        await using var server = await FakeApiServer.StartAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.HoldWrites("events", gate.Task);
        var recorder = new ClusterEventRecorder(server.CreateClient(), new RecordingLogger(output), new ClusterEventRecorderOptions { QueueCapacity = 1 });
        using var stop = new CancellationTokenSource();
        var writer = recorder.RunWriterAsync(stop.Token);
        var first = Inventory(("a1", "10.0.0.1/8"));
        recorder.Enqueue(first, InventoryTranslator.Translate(first).Diagnostics);
        await Wait.UntilAsync(() => server.Requests.Any(r => r.Resource == "events" && r.Method == "POST"), "the first write hangs");

        var second = Inventory(("b2", "10.0.0.1/8"));
        var third = Inventory(("c3", "10.0.0.1/8"));
        recorder.Enqueue(second, InventoryTranslator.Translate(second).Diagnostics); // waits in the queue
        recorder.Enqueue(third, InventoryTranslator.Translate(third).Diagnostics);   // the queue is full: b2's batch goes

        Assert.Equal(1, recorder.Dropped);
        Assert.Equal(1, recorder.Queued);
        gate.SetResult();
        await Wait.UntilAsync(() => recorder.Written == 2, "both kept batches written");
        var involved = server.Objects("events").Select(e => e["involvedObject"]!["name"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(["a1", "c3"], involved);
        await stop.CancelAsync();
        await writer;
    }

    private static int Count(FakeApiServer server) => server.Objects("events").Single()["count"]!.GetValue<int>();

    private static SeedInventory Inventory(params (string Id, string Cidr)[] clusters)
    {
        var objects = clusters.Select(c =>
        {
            var cluster = Objects.Cluster(c.Id, "Tunneling", c.Cidr);
            cluster.Metadata.Uid = $"uid-{c.Id}";
            return cluster;
        }).ToList();
        return new SeedInventory([Objects.Seed()], objects, clusters.Select(c => Objects.ApiServerService(c.Id)).ToList(), new List<V1EndpointSlice>());
    }
}
