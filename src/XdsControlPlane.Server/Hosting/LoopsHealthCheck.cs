using Microsoft.Extensions.Diagnostics.HealthChecks;
using XdsControlPlane.Compiler.Pipeline;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Liveness (<c>/healthz</c>): the hosted loops are running and no apply has hung. A failure here means a restart helps;
/// a missing Seed or an unreachable API server does not (they are readiness problems), so they never fail it.
/// </summary>
public sealed class LoopsHealthCheck(ConfigPipeline pipeline, IEnumerable<IHostedService> services, IHostApplicationLifetime lifetime) : IHealthCheck
{
    /// <summary>An apply (translation, compile, publish) that takes this long is stuck, not slow: seconds for 10,000 tenants.</summary>
    public static TimeSpan StuckAfter { get; } = TimeSpan.FromMinutes(2);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (pipeline.ApplyingFor is { } applying && applying > StuckAfter)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"an apply has been running for {applying.TotalSeconds:F0}s (stuck after {StuckAfter.TotalSeconds:F0}s)"));
        }
        if (!lifetime.ApplicationStopping.IsCancellationRequested)
        {
            foreach (var service in services.OfType<BackgroundService>())
            {
                if (service.ExecuteTask is { IsCompleted: true } task)
                {
                    var why = task.Exception?.InnerException?.Message ?? "it returned";
                    return Task.FromResult(HealthCheckResult.Unhealthy($"{service.GetType().Name} has stopped: {why}"));
                }
            }
        }
        return Task.FromResult(HealthCheckResult.Healthy("loops running"));
    }
}
