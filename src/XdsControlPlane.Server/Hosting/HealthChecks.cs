using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes.Watch;

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

/// <summary>
/// Readiness, part one (<c>/readyz</c>): a snapshot has been published. Before the first one Envoy would get nothing, so the
/// replica is not ready, and the answer says why (the pipeline's errors: SeedMissing, SeedAmbiguous, an invalid Seed, ...).
/// After it, a missing Seed keeps the last good snapshot served: still ready, reported as Degraded.
/// </summary>
public sealed class SnapshotReadyCheck(ConfigPipeline pipeline) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var errors = pipeline.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && d.TenantId is null).Select(d => $"{d.Code}: {d}").ToList();
        if (pipeline.Current is not { } current)
        {
            var why = errors.Count > 0 ? string.Join("; ", errors.Take(5)) : "the source has not delivered its first complete input";
            return Task.FromResult(HealthCheckResult.Unhealthy($"no snapshot published yet: {why}"));
        }
        var version = current.Snapshot.Version;
        return Task.FromResult(errors.Count > 0
            ? HealthCheckResult.Degraded($"serving the last good snapshot {version}; the latest input is refused: {string.Join("; ", errors.Take(5))}")
            : HealthCheckResult.Healthy($"serving snapshot {version}"));
    }
}

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

/// <summary>The health answer as JSON: overall status, then each check's status and description.</summary>
public static class HealthResponse
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            Status = report.Status.ToString(),
            Checks = report.Entries.ToDictionary(e => e.Key, e => new { Status = e.Value.Status.ToString(), e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }
}
