using XdsControlPlane.Compiler.Pipeline;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Pays the drains that narrowings owe (see <see cref="ConfigPipeline.RevocationDelay"/>) once the oldest is that
/// old: one snapshot renames every owing tenant's filter, so several narrowings cost Envoy one LDS update.
/// </summary>
public sealed partial class RevocationDrainer(ConfigPipeline pipeline, TimeProvider time, ILogger<RevocationDrainer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (pipeline.RevocationDelay <= TimeSpan.Zero)
        {
            return; // every narrowing drains at once
        }
        // Checking four times per delay bounds the wait at 1.25 × the delay.
        var tick = TimeSpan.FromTicks(Math.Max(pipeline.RevocationDelay.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks));
        using var timer = new PeriodicTimer(tick, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // The pipeline dates drains with its own clock and reads the age under its lock (the host gives it this
            // same TimeProvider).
            try
            {
                pipeline.DrainRevocationsOwedLongerThan(pipeline.RevocationDelay);
            }
            catch (Exception e)
            {
                // The pipeline keeps its last good snapshot; the drain is still owed and is tried at the next tick.
                LogDrainFailed(logger, e.GetType().Name, e.Message, e);
            }
        }
    }

    [LoggerMessage(EventId = 320, EventName = "DrainFailed", Level = LogLevel.Error,
        Message = "Draining narrowed tenants failed ({Type}: {Message}); retried at the next tick")]
    private static partial void LogDrainFailed(ILogger logger, string type, string message, Exception exception);
}
