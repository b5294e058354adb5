using k8s;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Feeds the pipeline from the seed's API server, translating again only the tenants whose objects the watch events
/// changed, and tells operators about bad tenants with Kubernetes Events.
/// </summary>
public sealed partial class KubernetesSourceService(
    KubernetesSource source, ClusterEventRecorder events, ConfigPipeline pipeline, ILogger<KubernetesSourceService> logger) : BackgroundService
{
    private IncrementalTranslator _translator = new(source.Options.ToTranslationOptions());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await source.RunAsync((InventoryUpdate update, CancellationToken ct) =>
            {
                ApplyOutcome outcome;
                try
                {
                    if (update.Complete)
                    {
                        _translator = new IncrementalTranslator(source.Options.ToTranslationOptions());
                    }
                    _translator.Apply(update.Changes);
                    var result = _translator.Translate();
                    outcome = pipeline.Apply(new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics));
                }
                catch (Exception e)
                {
                    // The translator may hold half of the changes: it starts again from the source's next update, complete.
                    source.RequestCompleteUpdate();
                    LogApplyFailed(logger, e.GetType().Name, e.Message, e);
                    return Task.CompletedTask;
                }
                // Off the publishing path: the Event writer (EventWriterService) takes it from here, so a slow API server
                // never delays the next policy change; it puts the inventory together there, if it needs it.
                var dropped = events.Dropped;
                events.Enqueue(() => update.Inventory, outcome.Diagnostics);
                if (events.Dropped > dropped)
                {
                    LogEventsBehind(logger, events.Dropped);
                }
                return Task.CompletedTask;
            }, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 310, EventName = "EventWriterBehind", Level = LogLevel.Warning,
        Message = "The Kubernetes Event writer is behind the API server; the oldest queued batch was dropped ({Dropped} so far, the newest is kept)")]
    private static partial void LogEventsBehind(ILogger logger, long dropped);

    [LoggerMessage(EventId = 311, EventName = "SourceApplyFailed", Level = LogLevel.Error,
        Message = "Translating or applying an inventory failed ({Type}: {Message}); the last good configuration stays in force, the next change retries")]
    private static partial void LogApplyFailed(ILogger logger, string type, string message, Exception exception);

    public static IKubernetes CreateClient(KubernetesSourceOptions options) => new Kubernetes(options.CreateClientConfiguration());
}
