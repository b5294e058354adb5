using System.Diagnostics.Metrics;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// The source's counters as System.Diagnostics.Metrics instruments (meter <see cref="MeterName"/>), read from
/// <see cref="KubernetesSource.GetStatus"/> when collected; per-informer values carry a <c>resource</c> tag.
/// Export them with OpenTelemetry or <c>dotnet-counters</c>.
/// </summary>
public sealed class KubernetesSourceMetrics : IDisposable
{
    public const string MeterName = "XdsControlPlane.Sources.Kubernetes";

    private readonly Meter _meter;

    public KubernetesSourceMetrics(KubernetesSource source, IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        IEnumerable<Measurement<long>> PerInformer(Func<InformerStatus, long> value) =>
            source.GetStatus().Informers.Select(i => new Measurement<long>(value(i), new KeyValuePair<string, object?>("resource", i.Resource)));

        _meter.CreateObservableCounter("xds.source.kubernetes.events", () => PerInformer(i => i.Events), "{event}", "ADDED/MODIFIED/DELETED events received");
        _meter.CreateObservableCounter("xds.source.kubernetes.bookmarks", () => PerInformer(i => i.Bookmarks), "{bookmark}", "BOOKMARK events received");
        _meter.CreateObservableCounter("xds.source.kubernetes.watch_restarts", () => PerInformer(i => i.WatchRestarts), "{restart}",
            "watches that ended abnormally (dropped, error, watchdog) and were restarted");
        _meter.CreateObservableCounter("xds.source.kubernetes.watchdog_restarts", () => PerInformer(i => i.WatchdogRestarts), "{restart}",
            "watches restarted because nothing arrived within the watchdog timeout");
        _meter.CreateObservableCounter("xds.source.kubernetes.gone", () => PerInformer(i => i.Gone), "{response}", "410 Gone answers");
        _meter.CreateObservableCounter("xds.source.kubernetes.relists", () => PerInformer(i => i.Relists), "{list}", "lists after the first");
        _meter.CreateObservableCounter("xds.source.kubernetes.synthesized_deletes", () => PerInformer(i => i.SynthesizedDeletes), "{object}",
            "objects found deleted by a re-list");
        _meter.CreateObservableGauge("xds.source.kubernetes.objects", () => PerInformer(i => i.ObjectCount), "{object}", "objects in the informer's store");
        _meter.CreateObservableGauge("xds.source.kubernetes.last_event_age", () => source.GetStatus().Informers
            .Where(i => i.LastEventTime is not null)
            .Select(i => new Measurement<double>((DateTimeOffset.UtcNow - i.LastEventTime!.Value).TotalSeconds, new KeyValuePair<string, object?>("resource", i.Resource))),
            "s", "seconds since the informer's last event or bookmark");
        _meter.CreateObservableGauge("xds.source.kubernetes.synced", () => source.HasSynced ? 1 : 0, null, "1 once every informer has listed");
        _meter.CreateObservableCounter("xds.source.kubernetes.inventories", () => source.GetStatus().InventoriesPublished, "{inventory}", "inventories published");
    }

    public void Dispose() => _meter.Dispose();
}
