using Prometheus;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// The source's counters as prometheus-net collectors in the host's registry, read from
/// <see cref="KubernetesSource.GetStatus"/> when scraped; per-informer values carry a <c>resource</c> label.
/// (They were System.Diagnostics.Metrics instruments named <c>xds.source.kubernetes.*</c> that nothing exported.)
/// </summary>
public sealed class KubernetesSourceMetrics
{
    public KubernetesSourceMetrics(KubernetesSource source, CollectorRegistry registry, TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        var factory = Metrics.WithCustomRegistry(registry);
        Counter PerInformerCounter(string name, string help) => factory.CreateCounter(name, help, "resource");
        var events = PerInformerCounter("xds_source_kubernetes_events_total", "ADDED/MODIFIED/DELETED watch events received.");
        var bookmarks = PerInformerCounter("xds_source_kubernetes_bookmarks_total", "BOOKMARK watch events received.");
        var restarts = PerInformerCounter("xds_source_kubernetes_watch_restarts_total",
            "Watches that ended abnormally (dropped, error, watchdog) and were restarted.");
        var watchdog = PerInformerCounter("xds_source_kubernetes_watchdog_restarts_total",
            "Watches restarted because nothing arrived within the watchdog timeout.");
        var gone = PerInformerCounter("xds_source_kubernetes_gone_total", "410 Gone answers.");
        var relists = PerInformerCounter("xds_source_kubernetes_relists_total", "Lists after the first.");
        var deletes = PerInformerCounter("xds_source_kubernetes_synthesized_deletes_total", "Objects found deleted by a re-list.");
        var objects = factory.CreateGauge("xds_source_kubernetes_objects", "Objects in the informer's store.", "resource");
        var age = factory.CreateGauge("xds_source_kubernetes_last_event_age_seconds", "Seconds since the informer's last event or bookmark.", "resource");
        var informerSynced = factory.CreateGauge("xds_source_kubernetes_informer_synced", "1 once the informer has listed.", "resource");
        var synced = factory.CreateGauge("xds_source_kubernetes_synced", "1 once every informer has listed.");
        var inventories = factory.CreateCounter("xds_source_kubernetes_inventories_total", "Inventories published.");
        registry.AddBeforeCollectCallback(() =>
        {
            var status = source.GetStatus();
            var now = time.GetUtcNow();
            foreach (var i in status.Informers)
            {
                events.WithLabels(i.Resource).IncTo(i.Events);
                bookmarks.WithLabels(i.Resource).IncTo(i.Bookmarks);
                restarts.WithLabels(i.Resource).IncTo(i.WatchRestarts);
                watchdog.WithLabels(i.Resource).IncTo(i.WatchdogRestarts);
                gone.WithLabels(i.Resource).IncTo(i.Gone);
                relists.WithLabels(i.Resource).IncTo(i.Relists);
                deletes.WithLabels(i.Resource).IncTo(i.SynthesizedDeletes);
                objects.WithLabels(i.Resource).Set(i.ObjectCount);
                informerSynced.WithLabels(i.Resource).Set(i.HasSynced ? 1 : 0);
                if (i.LastEventTime is { } last)
                {
                    age.WithLabels(i.Resource).Set(Math.Max(0, (now - last).TotalSeconds));
                }
            }
            synced.Set(status.Synced ? 1 : 0);
            inventories.IncTo(status.InventoriesPublished);
        });
    }
}
