using k8s.Models;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Translation;
using Xunit.Abstractions;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>
/// The Kubernetes source hands over what its watch events changed: fed to an <see cref="IncrementalTranslator"/>, the
/// changes give the full translation of the source's inventory (a lost or wrong change would never converge), and an
/// edit of one object hands over that object only.
/// </summary>
public sealed class ChangeHandOverTests(ITestOutputHelper output)
{
    private static V1Service NodePortProxy(string policy) => new()
    {
        Metadata = new V1ObjectMeta { Name = "nodeport-proxy", NamespaceProperty = "kubermatic" },
        Spec = new V1ServiceSpec
        {
            Type = "LoadBalancer",
            ExternalTrafficPolicy = policy,
            Ports = [new V1ServicePort { Name = "secure", Port = 6443, Protocol = "TCP", NodePort = 32000 }],
        },
    };

    private sealed record Seen(InventoryUpdate Update, TranslationResult Incremental, TranslationResult Full);

    [Fact]
    public async Task ChangesFedToTheIncrementalTranslator_ConvergeOnTheFullTranslation_OneEditOneChange()
    {
        await using var server = await FakeApiServer.StartAsync();
        var options = SourceHarness.TestOptions;
        var source = new KubernetesSource(server.CreateClient(), options, new RecordingLogger(output));
        server.Upsert("seeds", Objects.Seed());
        foreach (var id in new[] { "a1", "b2", "c3" })
        {
            Objects.AddTenant(server, id, "203.0.113.0/24");
        }
        server.Upsert("services", NodePortProxy("Cluster"));

        var translator = new IncrementalTranslator(options.ToTranslationOptions());
        var seen = new List<Seen>();
        var gate = new Lock();
        using var stop = new CancellationTokenSource();
        var run = source.RunAsync((InventoryUpdate update, CancellationToken _) =>
        {
            translator.Apply(update.Changes);
            var incremental = translator.Translate();
            var full = InventoryTranslator.Translate(update.Inventory, options.ToTranslationOptions());
            lock (gate)
            {
                seen.Add(new Seen(update, incremental, full));
            }
            return Task.CompletedTask;
        }, stop.Token);

        async Task<Seen> UntilAsync(Func<Seen, bool> state, string what)
        {
            Seen? last = null;
            await Wait.UntilAsync(() =>
            {
                lock (gate)
                {
                    last = seen.LastOrDefault();
                }
                return last is not null && state(last) && Same(last.Full, last.Incremental);
            }, $"{what}, translated incrementally as in full");
            return last!;
        }

        var first = await UntilAsync(s => s.Full.Tenants.Count == 3 && s.Full.Seed?.ExternalTrafficPolicy == "Cluster", "three tenants");
        Assert.True(seen[0].Update.Complete);
        var tenantsBefore = first.Incremental.Tenants;
        var count = seen.Count;

        // One Cluster edited: one change, one tenant translated again, the others the same instances.
        server.Upsert("clusters", Objects.Cluster("b2", "Tunneling", "198.51.100.0/24"));
        var edited = await UntilAsync(s => s.Full.Tenants.Single(t => t.Id == "b2").AllowedRanges.Count == 1
            && s.Full.Tenants.Single(t => t.Id == "b2").AllowedRanges[0].ToString() == "198.51.100.0/24", "b2 edited");
        Assert.False(edited.Update.Complete);
        lock (gate)
        {
            var changes = seen.Skip(count).SelectMany(s => s.Update.Changes).Select(c => c.Key).Distinct().ToList();
            Assert.Equal(["Cluster/b2"], changes);
        }
        Assert.Same(tenantsBefore.Single(t => t.Id == "a1"), edited.Incremental.Tenants.Single(t => t.Id == "a1"));
        Assert.Same(tenantsBefore.Single(t => t.Id == "c3"), edited.Incremental.Tenants.Single(t => t.Id == "c3"));

        // Deletions, the Seed's settings by the nodeport-proxy Service, a slice changed.
        server.Delete("clusters", null, "a1");
        server.Delete("services", "cluster-c3", "apiserver-external");
        server.Upsert("services", NodePortProxy("Local"));
        server.Upsert("endpointslices", Objects.ApiServerSlice("b2", "10.244.0.11", "10.244.0.12"));
        var last = await UntilAsync(s => s.Full.Seed?.ExternalTrafficPolicy == "Local"
            && s.Full.FailedTenants.SequenceEqual(["a1"]) && s.Full.Tenants.Any(t => t.Id == "c3" && t.Services.Count == 0)
            && s.Full.Tenants.Single(t => t.Id == "b2").Services[0].Ports[0].Endpoints.Count == 2
            && s.Full.Diagnostics.Any(d => d.Code == "ClusterMissing"), "deletions and edits");
        Assert.DoesNotContain(last.Incremental.Tenants, t => t.Id == "a1");

        await stop.CancelAsync();
        await run;
    }

    private static bool Same(TranslationResult full, TranslationResult incremental) =>
        Equals(full.Seed, incremental.Seed)
        && full.Tenants.Equals(incremental.Tenants)
        && full.FailedTenants.SetEquals(incremental.FailedTenants)
        && full.Diagnostics.SequenceEqual(incremental.Diagnostics);
}
