using k8s;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Feeds the pipeline from a folder of manifests: on every change the files the watcher named are read again, and only
/// the tenants whose objects changed are translated again.
/// </summary>
public sealed partial class FolderSourceService(
    FolderSource source, ConfigPipeline pipeline, IHostApplicationLifetime lifetime, ILogger<FolderSourceService> logger) : BackgroundService
{
    private IncrementalTranslator _translator = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Directory.Exists(source.Folder))
        {
            LogUnreadable(logger, $"input folder {source.Folder} does not exist; pass an existing folder with --input");
            Environment.ExitCode = 2;
            lifetime.StopApplication();
            return;
        }
        Apply(null);
        try
        {
            await source.WatchAsync(paths => { Apply(paths); return Task.CompletedTask; }, TimeSpan.FromMilliseconds(200), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One reload; nothing it throws ends the service (the last good snapshot stays, the next change retries).</summary>
    private void Apply(IReadOnlyCollection<string>? paths)
    {
        try
        {
            ApplyOnce(paths);
        }
        catch (Exception e)
        {
            // The translator may hold half of the changes: start it again from every object with the next read.
            _translator = new IncrementalTranslator();
            source.HandOverEverythingNext();
            LogApplyFailed(logger, e.GetType().Name, e.Message, e);
        }
    }

    private void ApplyOnce(IReadOnlyCollection<string>? paths)
    {
        var load = source.Load(paths);
        if (!load.Succeeded)
        {
            foreach (var d in load.Diagnostics)
            {
                LogUnreadable(logger, d.ToString());
            }
            return;
        }
        _translator.Apply(load.Changes);
        var result = _translator.Translate();
        pipeline.Apply(new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics));
    }

    [LoggerMessage(EventId = 300, EventName = "InputUnreadable", Level = LogLevel.Error, Message = "{Problem}")]
    private static partial void LogUnreadable(ILogger logger, string problem);

    [LoggerMessage(EventId = 301, EventName = "SourceApplyFailed", Level = LogLevel.Error,
        Message = "Reading or applying the input folder failed ({Type}: {Message}); the last good configuration stays in force, the next change retries")]
    private static partial void LogApplyFailed(ILogger logger, string type, string message, Exception exception);
}

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
