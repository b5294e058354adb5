using Xunit.Abstractions;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

public sealed class KubernetesSourceMetricsTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Counters_AreExportedPerResource()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        h.Server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(h.Server, "a1");
        h.Start();
        var registry = Prometheus.Metrics.NewCustomRegistry();
        _ = new KubernetesSourceMetrics(h.Source, registry);
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");
        h.Server.Upsert("clusters", Objects.Cluster("b2"));
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2");

        using var scraped = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(scraped);
        var text = System.Text.Encoding.UTF8.GetString(scraped.ToArray());
        output.WriteLine(text);

        Assert.Contains("xds_source_kubernetes_events_total{resource=\"clusters\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("xds_source_kubernetes_objects{resource=\"clusters\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("xds_source_kubernetes_synced 1\n", text, StringComparison.Ordinal);
        Assert.Contains("xds_source_kubernetes_watch_restarts_total{resource=\"services\"} ", text, StringComparison.Ordinal);
        Assert.Contains("xds_source_kubernetes_informer_synced{resource=\"nodeport-proxy-service\"} 1\n", text, StringComparison.Ordinal);
        var inventories = text.Split('\n').Single(l => l.StartsWith("xds_source_kubernetes_inventories_total ", StringComparison.Ordinal));
        Assert.True(double.Parse(inventories.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 2, inventories);
    }
}
