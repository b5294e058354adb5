using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Tests.KubernetesWatch;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>One inventory the source handed over, and what became of it.</summary>
/// <param name="Received">When the consumer was called (Stopwatch ticks).</param>
/// <param name="Accepted">When the snapshot was accepted by the cache (Stopwatch ticks).</param>
/// <param name="Cpu">Process CPU time at <paramref name="Received"/>, after translation and at acceptance: on a shared
/// machine the wall clock says more about the neighbours than about this process.</param>
/// <param name="Inventory">Put together when first asked for (after the timestamps), as the host's Event writer does.</param>
internal sealed record Delivery(Lazy<SeedInventory> Inventory, CompiledSeed Compiled, long Received, long Translated, long Accepted, (TimeSpan Received, TimeSpan Translated, TimeSpan Accepted) Cpu);

/// <summary>
/// A <see cref="KubernetesSource"/> feeding a <see cref="ConfigPipeline"/> that publishes into a real
/// <see cref="SnapshotCache"/>-like publisher, wired as <c>KubernetesSourceService</c> wires them (translate, then apply;
/// the consumer is awaited before the source builds its next update; the changed objects are translated again alone).
/// With <c>fullRebuild</c> each inventory is translated whole and compiled afresh with no previous compilation (the baseline).
/// </summary>
internal sealed class SourceStack : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<Snapshot, IReadOnlyList<string>> _publish;
    private readonly bool _fullRebuild;
    private readonly Lock _gate = new();
    private readonly List<Delivery> _deliveries = [];
    private readonly SemaphoreSlim _delivered = new(0);
    private Task _run = Task.CompletedTask;
    private IncrementalTranslator? _translator;
    private volatile Exception? _failure;

    public SourceStack(FakeApiServer api, KubernetesSourceOptions options, Func<Snapshot, IReadOnlyList<string>> publish, bool fullRebuild = false)
    {
        _publish = publish;
        _fullRebuild = fullRebuild;
        Source = new KubernetesSource(api.CreateClient(), options, NullLogger.Instance);
        Pipeline = new ConfigPipeline(publish, NullLogger<ConfigPipeline>.Instance) { RevocationDelay = TimeSpan.FromSeconds(5) };
    }

    public KubernetesSource Source { get; }

    public ConfigPipeline Pipeline { get; }

    public long Started { get; private set; }

    public TimeSpan StartedCpu { get; private set; }

    public static TimeSpan Cpu() => Process.GetCurrentProcess().TotalProcessorTime;

    public void Start()
    {
        StartedCpu = Cpu();
        Started = Stopwatch.GetTimestamp();
        _run = Source.RunAsync(OnInventory, _stop.Token);
    }

    public IReadOnlyList<Delivery> Deliveries
    {
        get
        {
            lock (_gate)
            {
                return [.. _deliveries];
            }
        }
    }

    /// <summary>The first delivery after <paramref name="after"/> deliveries whose inventory satisfies <paramref name="predicate"/>.</summary>
    public async Task<Delivery> WaitForAsync(int after, Func<SeedInventory, bool> predicate, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)((timeout ?? TimeSpan.FromMinutes(3)).TotalSeconds * Stopwatch.Frequency);
        var next = after;
        while (true)
        {
            var all = Deliveries;
            for (; next < all.Count; next++)
            {
                if (predicate(all[next].Inventory.Value))
                {
                    return all[next];
                }
            }
            if (_failure is { } failure)
            {
                throw new InvalidOperationException($"the consumer failed before {what}", failure);
            }
            if (_run.IsCompleted)
            {
                await _run;
                throw new InvalidOperationException($"the source stopped before {what}");
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"no snapshot accepted with {what}");
            }
            await _delivered.WaitAsync(TimeSpan.FromSeconds(1));
        }
    }

    private Task OnInventory(InventoryUpdate update, CancellationToken cancellationToken)
    {
        try
        {
            Consume(update);
        }
        catch (Exception e)
        {
            // The source would log it and go on; the benchmark must stop and say why.
            _failure = e;
            _delivered.Release();
        }
        return Task.CompletedTask;
    }

    private void Consume(InventoryUpdate update)
    {
        var received = Stopwatch.GetTimestamp();
        var cpuReceived = Cpu();
        TranslationResult result;
        if (_fullRebuild)
        {
            result = InventoryTranslator.Translate(update.Inventory, Source.Options.ToTranslationOptions());
        }
        else
        {
            // As KubernetesSourceService: only the tenants whose objects the events changed are translated again.
            if (update.Complete || _translator is null)
            {
                _translator = new IncrementalTranslator(Source.Options.ToTranslationOptions());
            }
            _translator.Apply(update.Changes);
            result = _translator.Translate();
        }
        var translated = Stopwatch.GetTimestamp();
        var cpuTranslated = Cpu();
        var input = new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics);
        CompiledSeed compiled;
        if (_fullRebuild)
        {
            compiled = SeedCompiler.Compile(new SeedModel(input.Seed!, input.Tenants));
            if (_publish(compiled.Snapshot) is { Count: > 0 } problems)
            {
                throw new InvalidOperationException($"the cache refused the snapshot: {string.Join("; ", problems)}");
            }
        }
        else
        {
            var outcome = Pipeline.Apply(input);
            compiled = outcome is { Applied: true, Current: { } current }
                ? current
                : throw new InvalidOperationException($"not applied: {outcome.RejectedBecause}");
        }
        var delivery = new Delivery(new Lazy<SeedInventory>(() => update.Inventory), compiled, received, translated, Stopwatch.GetTimestamp(), (cpuReceived, cpuTranslated, Cpu()));
        lock (_gate)
        {
            _deliveries.Add(delivery);
        }
        _delivered.Release();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }
}
