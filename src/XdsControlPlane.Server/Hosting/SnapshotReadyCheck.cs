using Microsoft.Extensions.Diagnostics.HealthChecks;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Model;

namespace XdsControlPlane.Server.Hosting;

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
