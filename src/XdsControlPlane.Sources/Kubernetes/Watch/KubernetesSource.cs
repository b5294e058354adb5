using System.Runtime.CompilerServices;
using System.Threading.Channels;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// The API-server source: informers for KKP Seeds and Clusters, exposed Services and their EndpointSlices, the
/// nodeport-proxy's own LoadBalancer Service, and a
/// publisher that turns their stores into <see cref="SeedInventory"/> values.
/// <list type="bullet">
/// <item>Nothing is published until every informer has listed once: a restart never serves a partial seed.</item>
/// <item>The first inventory is published as soon as the last informer has listed (nothing is served yet to spare).</item>
/// <item>Changes after it are coalesced: an inventory follows <see cref="KubernetesSourceOptions.Debounce"/> after the
/// last change, and at most <see cref="KubernetesSourceOptions.MaxDelay"/> after the first unpublished one.</item>
/// <item>Inventories are complete snapshots; the consumer is awaited before the next one is built, so a slow
/// consumer sees fewer, newer inventories rather than a queue of old ones.</item>
/// </list>
/// </summary>
public sealed class KubernetesSource
{
    private readonly KubernetesSourceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResourceInformer<KkpSeed> _seeds;
    private readonly ResourceInformer<KkpCluster> _clusters;
    private readonly ResourceInformer<V1Service> _services;
    private readonly ResourceInformer<V1EndpointSlice> _slices;
    private readonly ResourceInformer<V1Service> _nodePortProxy;
    private readonly IInformer[] _informers;
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _lastChange;
    private long _changes;
    private long _published;
    private long _publishTicks = -1;
    private long _lastPublished; // timestamp (this source's clock) of the last inventory handed over
    private volatile InventoryUpdate? _current;
    private int _running;
    private volatile bool _completeNext = true;

    public KubernetesSource(IKubernetes client, KubernetesSourceOptions options, ILogger logger, TimeProvider? timeProvider = null)
    {
        options.Validate();
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger;
        var informerOptions = new InformerOptions
        {
            WatchTimeout = options.WatchTimeout,
            WatchdogTimeout = options.WatchdogTimeout,
            BackoffInitial = options.BackoffInitial,
            BackoffMax = options.BackoffMax,
            ListPageSize = options.ListPageSize,
        };
        _seeds = new(ResourceApis.Seeds(client, options.SeedNamespace), informerOptions, _time, logger, OnChanged);
        _clusters = new(ResourceApis.Clusters(client), informerOptions, _time, logger, OnChanged);
        _services = new(ResourceApis.Services(client, options.Namespace), informerOptions, _time, logger, OnChanged,
            s => s.Metadata.Annotations?.ContainsKey(options.ExposeAnnotationKey) == true);
        _slices = new(ResourceApis.EndpointSlices(client, options.Namespace), informerOptions, _time, logger, OnChanged,
            s => s.Metadata.Labels?.ContainsKey(Annotations.ServiceNameLabel) == true);
        // The field selector keeps the watch to one object; the filter keeps it so with an API server that ignores selectors.
        _nodePortProxy = new(ResourceApis.Service(client, options.NodePortProxyNamespace, options.NodePortProxyService), informerOptions, _time, logger,
            OnChanged, s => s.Metadata.Name == options.NodePortProxyService && s.Metadata.NamespaceProperty == options.NodePortProxyNamespace);
        _informers = [_seeds, _clusters, _services, _slices, _nodePortProxy];
    }

    public KubernetesSourceOptions Options => _options;

    /// <summary>True once every informer has listed once.</summary>
    public bool HasSynced => _informers.All(i => i.HasSynced);

    /// <summary>The last inventory published, or null before the first.</summary>
    public SeedInventory? Current => _current?.Inventory;

    public KubernetesSourceStatus GetStatus()
    {
        var ticks = Interlocked.Read(ref _publishTicks);
        return new KubernetesSourceStatus(HasSynced, Interlocked.Read(ref _published), Interlocked.Read(ref _changes),
            ticks < 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero), _informers.Select(i => i.Status).ToList());
    }

    /// <summary>
    /// Runs the informers and calls <paramref name="onInventory"/> with each new inventory until
    /// <paramref name="cancellationToken"/> is cancelled. Calls never overlap. An exception from the consumer is
    /// logged and the source goes on (the next change publishes again). Runs once per instance.
    /// </summary>
    public Task RunAsync(Func<SeedInventory, CancellationToken, Task> onInventory, CancellationToken cancellationToken) =>
        RunAsync((update, ct) => onInventory(update.Inventory, ct), cancellationToken);

    /// <summary>
    /// As <see cref="RunAsync(Func{SeedInventory, CancellationToken, Task}, CancellationToken)"/>, handing over what changed
    /// (<see cref="InventoryUpdate.Changes"/>): a consumer that translates incrementally never needs the whole inventory.
    /// When the consumer throws, the next update is complete.
    /// </summary>
    public async Task RunAsync(Func<InventoryUpdate, CancellationToken, Task> onInventory, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("the source is already running");
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var informers = _informers.Select(i => Task.Run(() => i.RunAsync(stop.Token), CancellationToken.None)).ToArray();
        try
        {
            await PublishLoopAsync(onInventory, stop.Token);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(informers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>The same as <see cref="RunAsync"/>, as a stream. A consumer that falls behind gets the newest inventory, never a backlog.</summary>
    public async IAsyncEnumerable<SeedInventory> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<SeedInventory>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = RunAsync((inventory, _) => channel.Writer.WriteAsync(inventory, stop.Token).AsTask(), stop.Token)
            .ContinueWith(t => channel.Writer.TryComplete(t.Exception), TaskScheduler.Default);
        try
        {
            await foreach (var inventory in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return inventory;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await run;
        }
    }

    /// <summary>
    /// What keeps this source from being trusted as current at <paramref name="now"/>: an informer that has not listed, or one
    /// that has heard nothing (event, bookmark, list) for more than twice the watchdog timeout. Empty when all is well.
    /// </summary>
    public IReadOnlyList<string> StaleInformers(DateTimeOffset now)
    {
        var limit = _options.WatchdogTimeout * 2;
        var problems = new List<string>();
        foreach (var informer in _informers.Select(i => i.Status))
        {
            var error = informer.LastError is { } e ? $" (last error: {e})" : "";
            if (!informer.HasSynced)
            {
                problems.Add($"informer {informer.Resource} has not completed its first list{error}");
                continue;
            }
            var heard = Max(informer.LastSyncTime, informer.LastEventTime);
            if (heard is { } last && now - last > limit)
            {
                problems.Add($"informer {informer.Resource} has heard nothing for {(now - last).TotalSeconds:F0}s (allowed {limit.TotalSeconds:F0}s, " +
                    $"twice --watchdog-timeout): the allowlists served may be stale{error}");
            }
        }
        return problems;
    }

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private void OnChanged()
    {
        Interlocked.Exchange(ref _lastChange, _time.GetTimestamp());
        Interlocked.Increment(ref _changes);
        _signal.Writer.TryWrite(true);
    }

    private async Task PublishLoopAsync(Func<InventoryUpdate, CancellationToken, Task> onInventory, CancellationToken cancellationToken)
    {
        var publishedChanges = -1L;
        var announcedSync = false;
        while (true)
        {
            await _signal.Reader.ReadAsync(cancellationToken);
            if (!HasSynced)
            {
                continue; // each informer signals when it first syncs: the last one's signal comes back here synced
            }
            if (announcedSync && _time.GetElapsedTime(Interlocked.Read(ref _lastPublished)) < _options.Debounce)
            {
                // Within --debounce of the last inventory: a burst is under way, coalesce it. A change after a quiet
                // spell is handed over at once (the leading edge), so one edit does not wait for the debounce.
                await DebounceAsync(cancellationToken);
            }
            else
            {
                // The first inventory goes out as soon as every informer has listed: nothing is served yet, so there is
                // no churn to spare the consumer, and start-up (readiness) waits for it.
                announcedSync = true;
                KubernetesSourceLog.InformersSynced(_logger);
            }
            // Changes signalled up to here are in the snapshot below; later ones signal again.
            _signal.Reader.TryRead(out _);
            var changes = Interlocked.Read(ref _changes);
            if (changes == publishedChanges)
            {
                continue;
            }
            var update = TakeUpdate();
            publishedChanges = changes;
            _current = update;
            Interlocked.Exchange(ref _lastPublished, _time.GetTimestamp());
            var sequence = Interlocked.Increment(ref _published);
            Interlocked.Exchange(ref _publishTicks, _time.GetUtcNow().UtcTicks);
            KubernetesSourceLog.InventoryPublished(_logger, sequence, _seeds.Status.ObjectCount, _clusters.Status.ObjectCount, _services.Status.ObjectCount, _slices.Status.ObjectCount);
            try
            {
                await onInventory(update, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                _completeNext = true; // what the consumer kept may be half updated: it starts again from every object
                KubernetesSourceLog.ConsumerFailed(_logger, e);
            }
        }
    }

    /// <summary>Until <see cref="KubernetesSourceOptions.Debounce"/> after the last change, at most <see cref="KubernetesSourceOptions.MaxDelay"/> from now.</summary>
    private async Task DebounceAsync(CancellationToken cancellationToken)
    {
        var first = _time.GetTimestamp();
        while (true)
        {
            var now = _time.GetTimestamp();
            var quietFor = _time.GetElapsedTime(Interlocked.Read(ref _lastChange), now);
            var pendingFor = _time.GetElapsedTime(first, now);
            var wait = Min(_options.Debounce - quietFor, _options.MaxDelay - pendingFor);
            if (wait <= TimeSpan.Zero)
            {
                return;
            }
            await Task.Delay(wait, _time, cancellationToken);
        }
    }

    /// <summary>Makes the next update complete (every object), e.g. after the consumer lost track of the changes.</summary>
    public void RequestCompleteUpdate() => _completeNext = true;

    /// <summary>
    /// The changes since the last update (every object when one is due complete) and the inventory on demand. Keys
    /// changed after they are taken are taken again by the next update, so an object read newer than its event is
    /// only handed over twice.
    /// </summary>
    private InventoryUpdate TakeUpdate()
    {
        var changes = new List<ObjectChange>();
        var complete = _completeNext;
        _completeNext = false;
        if (complete)
        {
            foreach (var informer in _informers)
            {
                informer.TakeChangedKeys();
            }
            Add(changes, "Seed", _seeds.Snapshot());
            Add(changes, "Cluster", _clusters.Snapshot());
            Add(changes, "EndpointSlice", _slices.Snapshot());
            Add(changes, "Service", _services.Snapshot());
            foreach (var proxy in _nodePortProxy.Snapshot())
            {
                if (_services.Get(ResourceInformer<V1Service>.KeyOf(proxy)) is null)
                {
                    changes.Add(new ObjectChange($"Service/{ResourceInformer<V1Service>.KeyOf(proxy)}", proxy));
                }
            }
        }
        else
        {
            foreach (var key in _seeds.TakeChangedKeys())
            {
                changes.Add(new ObjectChange($"Seed/{key}", _seeds.Get(key)));
            }
            foreach (var key in _clusters.TakeChangedKeys())
            {
                changes.Add(new ObjectChange($"Cluster/{key}", _clusters.Get(key)));
            }
            foreach (var key in _slices.TakeChangedKeys())
            {
                changes.Add(new ObjectChange($"EndpointSlice/{key}", _slices.Get(key)));
            }
            // The nodeport-proxy's Service may be in both informers (when it is also exposed): one object, either store's.
            foreach (var key in _services.TakeChangedKeys().Union(_nodePortProxy.TakeChangedKeys(), StringComparer.Ordinal))
            {
                changes.Add(new ObjectChange($"Service/{key}", _services.Get(key) ?? _nodePortProxy.Get(key)));
            }
        }
        return new InventoryUpdate(changes, complete, Snapshot);

        static void Add<T>(List<ObjectChange> changes, string kind, IReadOnlyList<T> objects)
            where T : class, IKubernetesObject<V1ObjectMeta>
        {
            foreach (var obj in objects)
            {
                changes.Add(new ObjectChange($"{kind}/{ResourceInformer<T>.KeyOf(obj)}", obj));
            }
        }
    }

    /// <summary>The stores as one inventory; EndpointSlices only for the Services that are exposed.</summary>
    private SeedInventory Snapshot()
    {
        var services = _services.Snapshot();
        // (namespace, name) pairs: no key string built per object, which at 24,000 Services and slices is most of the cost.
        var exposed = new HashSet<(string?, string)>(services.Count);
        foreach (var service in services)
        {
            exposed.Add((service.Metadata.NamespaceProperty, service.Metadata.Name));
        }
        var slices = _slices.Snapshot()
            .Where(s => exposed.Contains((s.Metadata.NamespaceProperty, s.Metadata.Labels[Annotations.ServiceNameLabel])))
            .ToList();
        // The nodeport-proxy Service joins the Services (the translation finds it by name) unless it is also exposed.
        var all = services.Concat(_nodePortProxy.Snapshot().Where(s => !exposed.Contains((s.Metadata.NamespaceProperty, s.Metadata.Name)))).ToList();
        return new SeedInventory(_seeds.Snapshot(), _clusters.Snapshot(), all, slices);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
