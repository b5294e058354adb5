using XdsControlPlane.Compiler.Pipeline;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Pays the drains that narrowings owe (see <see cref="ConfigPipeline.RevocationDelay"/>) once the oldest is that
/// old: one snapshot renames every owing tenant's filter, so several narrowings cost Envoy one LDS update.
/// </summary>
public sealed class RevocationDrainer(ConfigPipeline pipeline, TimeProvider time) : BackgroundService
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
            pipeline.DrainRevocationsOwedLongerThan(pipeline.RevocationDelay);
        }
    }
}
