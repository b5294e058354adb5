using System.Diagnostics.Metrics;
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
        using var metrics = new KubernetesSourceMetrics(h.Source);
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 1, "a1");
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1, "clusters watched");
        h.Server.Upsert("clusters", Objects.Cluster("b2"));
        await h.Sink.WaitForAsync(i => i.Clusters.Count == 2, "b2");

        var measurements = new List<(string Name, double Value, string? Resource)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == KubernetesSourceMetrics.MeterName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        {
            string? resource = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "resource")
                {
                    resource = tag.Value as string;
                }
            }
            lock (measurements)
            {
                measurements.Add((instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), resource));
            }
        }
        listener.SetMeasurementEventCallback<long>(Record);
        listener.SetMeasurementEventCallback<int>(Record);
        listener.SetMeasurementEventCallback<double>(Record);
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Contains(("xds.source.kubernetes.events", 1d, "clusters"), measurements);
        Assert.Contains(("xds.source.kubernetes.objects", 2d, "clusters"), measurements);
        Assert.Contains(("xds.source.kubernetes.synced", 1d, (string?)null), measurements);
        Assert.Contains(measurements, m => m.Name == "xds.source.kubernetes.watch_restarts" && m.Resource == "services");
        Assert.Contains(measurements, m => m.Name == "xds.source.kubernetes.inventories" && m.Value >= 2);
    }
}
