using Microsoft.Extensions.Diagnostics.HealthChecks;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Readiness, part two (Kubernetes source only): every informer has listed, and each has heard from the API server (an
/// event, a bookmark or a list) within twice its watchdog timeout: one watchdog period to notice a hung watch, one to
/// recover. Beyond that the allowlists served may be stale, and the replica says so.
/// </summary>
public sealed class InformersReadyCheck(KubernetesSource source, TimeProvider time) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var problems = source.StaleInformers(time.GetUtcNow());
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy("every informer synced and current")
            : HealthCheckResult.Unhealthy(string.Join("; ", problems)));
    }
}
