using Prometheus;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;

namespace XdsControlPlane.Server.Hosting;

/// <summary>
/// Tells operators what is enforced. Fed every published snapshot (<see cref="ConfigPipeline.Applied"/>), it logs a tenant's
/// enforcement only when it changes (a Warning when the list is not enforced, with the reason and what to do; an
/// Information when that ends), and keeps two metrics: <c>nodeport_proxy_tenants{enforcement}</c> (tenants per state)
/// and <c>nodeport_proxy_tenant_info{tenant,enforcement,reason}</c> = 1 per served tenant. It also exports
/// <c>nodeport_proxy_seed_missing</c> from the pipeline's latest diagnostics.
/// </summary>
public sealed partial class EnforcementReporter
{
    private readonly ILogger _logger;
    private readonly Gauge _tenants;
    private readonly Gauge _tenantInfo;
    private readonly Counter _changes;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (Enforcement Enforcement, string Reason)> _states = new(StringComparer.Ordinal);
    private readonly int[] _counts = new int[Enum.GetValues<Enforcement>().Length];
    private CompiledSeed? _seen; // the compilation _states reflect

    public EnforcementReporter(CollectorRegistry registry, ILogger<EnforcementReporter> logger, Func<IReadOnlyList<Diagnostic>> diagnostics)
    {
        _logger = logger;
        var factory = Metrics.WithCustomRegistry(registry);
        _tenants = factory.CreateGauge("nodeport_proxy_tenants", "Served tenants by allowlist enforcement state.", "enforcement");
        _tenantInfo = factory.CreateGauge("nodeport_proxy_tenant_info", "1 per served tenant, labelled with its enforcement state and why.",
            "tenant", "enforcement", "reason");
        _changes = factory.CreateCounter("nodeport_proxy_enforcement_changes_total", "Changes of a tenant's enforcement state (new tenants included).",
            "enforcement");
        var seedMissing = factory.CreateGauge("nodeport_proxy_seed_missing",
            "1 while the latest input has no usable Seed (SeedMissing or SeedAmbiguous): nothing new is applied.", "reason");
        foreach (var state in Enum.GetValues<Enforcement>())
        {
            _tenants.WithLabels(state.ToString()).Set(0); // every state present, at zero, so alerts need no absent()
        }
        string[] seedReasons = ["SeedMissing", "SeedAmbiguous"];
        foreach (var reason in seedReasons)
        {
            seedMissing.WithLabels(reason).Set(0);
        }
        registry.AddBeforeCollectCallback(() =>
        {
            var latest = diagnostics();
            foreach (var reason in seedReasons)
            {
                seedMissing.WithLabels(reason).Set(latest.Any(d => d.Code == reason && d.Severity == DiagnosticSeverity.Error) ? 1 : 0);
            }
        });
    }

    /// <summary>Not enforced: the list is off (open), shadowed (dry run), or every connection is refused (deny-all).</summary>
    public static bool IsWarned(Enforcement enforcement) =>
        enforcement is Enforcement.NotEnforceableOpen or Enforcement.NotEnforceableDenyAll or Enforcement.DryRun;

    /// <summary>
    /// Compares with the previous snapshot's states: logs and relabels only what changed. When
    /// <paramref name="compiled"/> was derived from the compilation seen last (the pipeline's usual case), only the
    /// tenants it recompiled, added or removed are looked at: O(changes), not O(tenants), per apply.
    /// </summary>
    public void OnApplied(CompiledSeed compiled)
    {
        lock (_gate)
        {
            if (_seen is not null && compiled.TryGetChangedSince(_seen, out var changedIds))
            {
                foreach (var id in changedIds)
                {
                    Update(id, compiled.GetReport(id));
                }
            }
            else
            {
                var next = new HashSet<string>(StringComparer.Ordinal);
                foreach (var report in compiled.Reports)
                {
                    next.Add(report.Id);
                    Update(report.Id, report);
                }
                foreach (var id in _states.Keys.Where(id => !next.Contains(id)).ToList())
                {
                    Update(id, null);
                }
            }
            _seen = compiled;
            foreach (var state in Enum.GetValues<Enforcement>())
            {
                _tenants.WithLabels(state.ToString()).Set(_counts[(int)state]);
            }
        }
    }

    /// <summary>One tenant's report now (null: no longer served) against its state before.</summary>
    private void Update(string id, TenantReport? report)
    {
        var known = _states.TryGetValue(id, out var before);
        if (report is null)
        {
            if (!known)
            {
                return;
            }
            _states.Remove(id);
            _counts[(int)before.Enforcement]--;
            _tenantInfo.RemoveLabelled(id, before.Enforcement.ToString(), before.Reason);
            if (IsWarned(before.Enforcement))
            {
                LogNoLongerServed(_logger, id, before.Enforcement);
            }
            return;
        }
        var state = (report.Enforcement, report.Reason);
        if (known && before == state)
        {
            return;
        }
        if (known)
        {
            _counts[(int)before.Enforcement]--;
            _tenantInfo.RemoveLabelled(id, before.Enforcement.ToString(), before.Reason);
        }
        _states[id] = state;
        _counts[(int)report.Enforcement]++;
        _tenantInfo.WithLabels(id, report.Enforcement.ToString(), report.Reason).Set(1);
        _changes.WithLabels(report.Enforcement.ToString()).Inc();
        if (IsWarned(report.Enforcement))
        {
            LogNotEnforced(_logger, id, report.Enforcement, report.Reason);
        }
        else if (known && IsWarned(before.Enforcement))
        {
            LogEnforcedAgain(_logger, id, before.Enforcement, report.Enforcement, report.Reason);
        }
    }

    [LoggerMessage(EventId = 400, EventName = "AllowlistNotEnforced", Level = LogLevel.Warning,
        Message = "Tenant {Tenant}: allowlist {Enforcement}: {Reason}")]
    private static partial void LogNotEnforced(ILogger logger, string tenant, Enforcement enforcement, string reason);

    [LoggerMessage(EventId = 401, EventName = "AllowlistEnforcedAgain", Level = LogLevel.Information,
        Message = "Tenant {Tenant}: no longer {Before}, now {Enforcement}: {Reason}")]
    private static partial void LogEnforcedAgain(ILogger logger, string tenant, Enforcement before, Enforcement enforcement, string reason);

    [LoggerMessage(EventId = 402, EventName = "UnenforcedTenantGone", Level = LogLevel.Information,
        Message = "Tenant {Tenant} (allowlist {Before}) is no longer served")]
    private static partial void LogNoLongerServed(ILogger logger, string tenant, Enforcement before);
}
