using Prometheus;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Writes the Kubernetes Events the source queues (<see cref="ClusterEventRecorder.Enqueue"/>) on its own task, so the
/// publishing path never waits for the API server; exports the queue's depth and what it dropped.
/// </summary>
public sealed class EventWriterService : BackgroundService
{
    private readonly ClusterEventRecorder _recorder;

    public EventWriterService(ClusterEventRecorder recorder, CollectorRegistry registry)
    {
        _recorder = recorder;
        var factory = Metrics.WithCustomRegistry(registry);
        var dropped = factory.CreateCounter("nodeport_proxy_event_batches_dropped_total",
            "Translations whose Kubernetes Events were dropped unwritten because the writer's queue was full (a newer one was kept).");
        var written = factory.CreateCounter("nodeport_proxy_event_batches_written_total", "Translations whose Kubernetes Events were written.");
        var queued = factory.CreateGauge("nodeport_proxy_event_batches_queued", "Translations waiting for the Event writer.");
        registry.AddBeforeCollectCallback(() =>
        {
            dropped.IncTo(recorder.Dropped);
            written.IncTo(recorder.Written);
            queued.Set(recorder.Queued);
        });
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _recorder.RunWriterAsync(stoppingToken);
}
