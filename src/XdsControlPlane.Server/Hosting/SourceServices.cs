using k8s;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Server.Hosting;

/// <summary>Feeds the pipeline from a folder of manifests, re-reading it on every change.</summary>
public sealed partial class FolderSourceService(
    FolderSource source, ConfigPipeline pipeline, IHostApplicationLifetime lifetime, ILogger<FolderSourceService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Directory.Exists(source.Folder))
        {
            LogUnreadable(logger, $"input folder {source.Folder} does not exist; pass an existing folder with --input");
            Environment.ExitCode = 2;
            lifetime.StopApplication();
            return;
        }
        Apply();
        try
        {
            await source.WatchAsync(() => { Apply(); return Task.CompletedTask; }, TimeSpan.FromMilliseconds(200), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void Apply()
    {
        var load = source.Load();
        if (load.Inventory is null)
        {
            foreach (var d in load.Diagnostics)
            {
                LogUnreadable(logger, d.ToString());
            }
            return;
        }
        var result = InventoryTranslator.Translate(load.Inventory);
        pipeline.Apply(new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, load.Diagnostics.Concat(result.Diagnostics).ToList()));
    }

    [LoggerMessage(EventId = 300, EventName = "InputUnreadable", Level = LogLevel.Error, Message = "{Problem}")]
    private static partial void LogUnreadable(ILogger logger, string problem);
}

/// <summary>Feeds the pipeline from the seed's API server and tells operators about bad tenants with Kubernetes Events.</summary>
public sealed partial class KubernetesSourceService(
    KubernetesSource source, ClusterEventRecorder events, ConfigPipeline pipeline, ILogger<KubernetesSourceService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await source.RunAsync((inventory, ct) =>
            {
                var result = InventoryTranslator.Translate(inventory, source.Options.ToTranslationOptions());
                var outcome = pipeline.Apply(new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics));
                // Off the publishing path: the Event writer (EventWriterService) takes it from here, so a slow API server
                // never delays the next policy change.
                var dropped = events.Dropped;
                events.Enqueue(inventory, outcome.Diagnostics);
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

    public static IKubernetes CreateClient(KubernetesSourceOptions options) => new Kubernetes(options.CreateClientConfiguration());
}
