using System.Diagnostics;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Pipeline;

/// <summary>
/// Input → model → compiler → snapshot, all or nothing. A bad seed keeps the whole last good snapshot; a bad
/// tenant keeps its own last good model (and so its last good policy) while the others move on; an
/// inconsistent snapshot is never published. Publishing goes through <paramref name="publish"/>, which checks
/// consistency (the snapshot cache does, once per snapshot) and returns the problems, empty when published;
/// on a refusal nothing changes here either. <paramref name="time"/> dates drains owed and applies (default: the system clock).
/// </summary>
public sealed partial class ConfigPipeline(Func<Snapshot, IReadOnlyList<string>> publish, ILogger<ConfigPipeline> logger, TimeProvider? time = null)
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private DateTimeOffset? _drainOwedSince; // under _gate: more than 8 bytes, a read without it could be torn
    private long _lastAppliedUtcTicks; // 0 until the first apply; one atomic word, read without the lock
    private long _applyingSince; // timestamp of the apply in progress, 0 when none
    private CompiledSeed? _current;
    private IReadOnlyList<Diagnostic> _diagnostics = [];
    private IReadOnlySet<string> _servingLastGood = new HashSet<string>(StringComparer.Ordinal);
    private IReadOnlyList<Diagnostic> _inputDiagnostics = [];

    public CompiledSeed? Current => Volatile.Read(ref _current);

    /// <summary>
    /// How long a narrowing's drain may wait (ECDS delivery). Zero: every narrowing renames its tenant's filter
    /// at once, so each one re-sends LDS to every Envoy. Above zero: the narrower list is served at once under
    /// the old name (new connections refused within a push of one small resource), and the renames owed are
    /// made together by <see cref="DrainRevocationsOwedLongerThan"/>, which the host calls with this delay. Live
    /// connections from removed addresses then end within this delay plus Envoy's <c>--drain-time-s</c>.
    /// </summary>
    public TimeSpan RevocationDelay { get; init; }

    /// <summary>
    /// Called with each snapshot published, under the pipeline's lock (so calls never overlap and come in order): the host
    /// reports enforcement changes from it. Must be quick and must not throw.
    /// </summary>
    public Action<CompiledSeed>? Applied { get; init; }

    /// <summary>Since when a drain has been owed (null when none is), by this pipeline's clock.</summary>
    public DateTimeOffset? DrainOwedSince
    {
        get
        {
            lock (_gate)
            {
                return _drainOwedSince;
            }
        }
    }

    /// <summary>Everything wrong with the latest input, including what was rejected.</summary>
    public IReadOnlyList<Diagnostic> Diagnostics => Volatile.Read(ref _diagnostics);

    public DateTimeOffset? LastApplied => Volatile.Read(ref _lastAppliedUtcTicks) is > 0 and var ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>How long the apply in progress (waiting for the lock included) has run; null when none is. For liveness.</summary>
    public TimeSpan? ApplyingFor => Volatile.Read(ref _applyingSince) is > 0 and var since ? _time.GetElapsedTime(since) : null;

    public ApplyOutcome Apply(PipelineInput input)
    {
        Volatile.Write(ref _applyingSince, Math.Max(1, _time.GetTimestamp()));
        try
        {
            return ApplyLocked(input);
        }
        finally
        {
            Volatile.Write(ref _applyingSince, 0);
        }
    }

    private ApplyOutcome ApplyLocked(PipelineInput input)
    {
        lock (_gate)
        {
            var watch = Stopwatch.StartNew();
            var diagnostics = new List<Diagnostic>(input.Diagnostics);
            foreach (var d in input.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error))
            {
                LogInputError(logger, d.Object, d.Field, d.Message);
            }
            if (input.Seed is null)
            {
                return Reject(diagnostics, watch, "the Seed's settings are invalid; the last good configuration stays in force");
            }

            // A failed tenant keeps the tenant it was last compiled from (the served model holds it): looked up by id,
            // so an apply costs O(failed tenants) here, not a dictionary of every tenant.
            var servingLastGood = new HashSet<string>(StringComparer.Ordinal);
            var substitutes = new List<Tenant>();
            foreach (var failed in input.FailedTenants)
            {
                if (_current is not null && _current.Tenants.TryGetValue(failed, out var good))
                {
                    substitutes.Add(good.Tenant);
                    servingLastGood.Add(failed);
                    LogKeptLastGood(logger, failed);
                    diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "TenantServingLastGood", $"Cluster/{failed}", "",
                        "the tenant's input is invalid (see its other warnings): its last good policy is served until it is fixed", failed));
                }
                else
                {
                    LogNewTenantRejected(logger, failed);
                    // Said as an Event on the Cluster too: without it the tenant's operators only see their ranges refused.
                    diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "TenantNotServed", $"Cluster/{failed}", "",
                        "the tenant's input is invalid (see its other warnings) and it has no last good policy: it is NOT served " +
                        "(unreachable through the nodeport-proxy) until it is fixed", failed));
                }
            }
            var ordered = WithSubstitutes(input.Tenants, substitutes);
            var inputDiagnostics = diagnostics.ToList(); // with the tenant notes above, which a later drain reports again
            var model = new SeedModel(input.Seed, ordered);
            ApplyOutcome outcome;
            try
            {
                var compiled = SeedCompiler.Compile(model, _current, servingLastGood, drainRevocations: RevocationDelay <= TimeSpan.Zero);
                outcome = Publish(compiled, diagnostics, watch);
            }
            catch (Exception e)
            {
                // A bug (no input is meant to reach here): the last good snapshot stays, and the next input is tried afresh.
                return Failed(e, diagnostics, watch);
            }
            if (outcome.Applied)
            {
                _servingLastGood = servingLastGood;
                _inputDiagnostics = inputDiagnostics;
            }
            return outcome;
        }
    }

    /// <summary>
    /// The input's tenants with each last good substitute in its id's place (replacing an input tenant of that id).
    /// Sources hand tenants sorted by id (hence unique): then this is the input itself, or one merge of two sorted
    /// sequences; anything else is sorted here, the last tenant of an id winning, as the compiler expects.
    /// </summary>
    private static ValueList<Tenant> WithSubstitutes(ValueList<Tenant> input, List<Tenant> substitutes)
    {
        if (!SeedCompiler.IsSortedById(input))
        {
            var byId = new Dictionary<string, Tenant>(StringComparer.Ordinal);
            foreach (var tenant in input.Concat(substitutes))
            {
                byId[tenant.Id] = tenant;
            }
            return byId.Values.OrderBy(t => t.Id, StringComparer.Ordinal).ToValueList();
        }
        if (substitutes.Count == 0)
        {
            return input;
        }
        substitutes.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        var merged = new List<Tenant>(input.Count + substitutes.Count);
        var s = 0;
        foreach (var tenant in input)
        {
            while (s < substitutes.Count && string.CompareOrdinal(substitutes[s].Id, tenant.Id) < 0)
            {
                merged.Add(substitutes[s++]);
            }
            if (s < substitutes.Count && substitutes[s].Id == tenant.Id)
            {
                merged.Add(substitutes[s++]);
                continue;
            }
            merged.Add(tenant);
        }
        merged.AddRange(substitutes.Skip(s));
        return merged.ToValueList();
    }

    /// <summary>Makes every drain owed (see <see cref="RevocationDelay"/>): one snapshot renames all those tenants' filters.</summary>
    /// <returns>Null when nothing was owed.</returns>
    public ApplyOutcome? DrainRevocations()
    {
        lock (_gate)
        {
            return Drain();
        }
    }

    /// <summary>
    /// As <see cref="DrainRevocations"/>, once the oldest drain owed is at least <paramref name="delay"/> old by this
    /// pipeline's clock: the age is read and the drain made under the one lock that also dates it.
    /// </summary>
    /// <returns>Null when nothing was owed that long.</returns>
    public ApplyOutcome? DrainRevocationsOwedLongerThan(TimeSpan delay)
    {
        lock (_gate)
        {
            return _drainOwedSince is { } since && _time.GetUtcNow() - since >= delay ? Drain() : null;
        }
    }

    private ApplyOutcome? Drain()
    {
        if (_current is not { OwedRevocations.Count: > 0 } current)
        {
            return null;
        }
        var watch = Stopwatch.StartNew();
        try
        {
            var compiled = SeedCompiler.Compile(current.Model, current, _servingLastGood, drainRevocations: true);
            LogDrained(logger, current.OwedRevocations.Count);
            return Publish(compiled, [.. _inputDiagnostics], watch);
        }
        catch (Exception e)
        {
            return Failed(e, [.. _inputDiagnostics], watch);
        }
    }

    private ApplyOutcome Failed(Exception e, List<Diagnostic> diagnostics, Stopwatch watch)
    {
        LogCompileFailed(logger, e.GetType().Name, e.Message, e);
        diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "CompileFailed", "snapshot", "",
            $"compiling the input failed ({e.GetType().Name}: {e.Message}); this is a bug, please report it with the input"));
        return Reject(diagnostics, watch, $"compiling the input failed: {e.GetType().Name}: {e.Message}");
    }

    private ApplyOutcome Publish(CompiledSeed compiled, List<Diagnostic> diagnostics, Stopwatch watch)
    {
        diagnostics.AddRange(compiled.Diagnostics);
        var problems = publish(compiled.Snapshot);
        if (problems.Count > 0)
        {
            diagnostics.AddRange(problems.Select(p => new Diagnostic(DiagnosticSeverity.Error, "InconsistentSnapshot", "snapshot", "", p)));
            return Reject(diagnostics, watch, $"the compiled snapshot was refused: {problems[0]}");
        }
        var now = _time.GetUtcNow();
        _drainOwedSince = compiled.OwedRevocations.Count == 0 ? null : _drainOwedSince ?? now;
        Volatile.Write(ref _current, compiled);
        Volatile.Write(ref _diagnostics, diagnostics);
        Volatile.Write(ref _lastAppliedUtcTicks, now.UtcTicks);
        Applied?.Invoke(compiled);
        LogApplied(logger, compiled.Snapshot.Version, compiled.Model.Tenants.Count, compiled.RecompiledTenants, watch.Elapsed.TotalMilliseconds);
        return new ApplyOutcome(true, compiled, diagnostics, watch.Elapsed, null);
    }

    private ApplyOutcome Reject(List<Diagnostic> diagnostics, Stopwatch watch, string because)
    {
        LogRejected(logger, because);
        Volatile.Write(ref _diagnostics, diagnostics);
        return new ApplyOutcome(false, _current, diagnostics, watch.Elapsed, because);
    }

    [LoggerMessage(EventId = 200, EventName = "SnapshotApplied", Level = LogLevel.Information,
        Message = "Applied snapshot {Version}: {Tenants} tenants, {Recompiled} recompiled, in {Milliseconds:F1} ms")]
    private static partial void LogApplied(ILogger logger, string version, int tenants, int recompiled, double milliseconds);

    [LoggerMessage(EventId = 205, EventName = "RevocationsDrained", Level = LogLevel.Information,
        Message = "Draining {Tenants} narrowed tenants' chains (their filters are renamed; Envoy closes their connections at the end of its drain time)")]
    private static partial void LogDrained(ILogger logger, int tenants);

    [LoggerMessage(EventId = 206, EventName = "CompileFailed", Level = LogLevel.Error,
        Message = "Compiling the input failed ({Type}: {Message}); the last good snapshot stays in force")]
    private static partial void LogCompileFailed(ILogger logger, string type, string message, Exception exception);

    [LoggerMessage(EventId = 201, EventName = "InputRejected", Level = LogLevel.Error, Message = "Input rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string reason);

    [LoggerMessage(EventId = 202, EventName = "InputError", Level = LogLevel.Warning, Message = "{Object}: {Field}: {Message}")]
    private static partial void LogInputError(ILogger logger, string @object, string field, string message);

    [LoggerMessage(EventId = 203, EventName = "TenantKeptLastGood", Level = LogLevel.Warning,
        Message = "Tenant {Tenant} has invalid input; serving its last good policy until it is fixed")]
    private static partial void LogKeptLastGood(ILogger logger, string tenant);

    [LoggerMessage(EventId = 204, EventName = "NewTenantRejected", Level = LogLevel.Warning,
        Message = "Tenant {Tenant} has invalid input and no last good policy; it is not served until it is fixed")]
    private static partial void LogNewTenantRejected(ILogger logger, string tenant);
}
