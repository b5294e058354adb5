using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Sources.Folder;
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
