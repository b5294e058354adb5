using System.Runtime.ExceptionServices;
using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// List-then-watch over one resource, keeping a local store of the objects (as client-go's reflector and YARP's
/// ResourceInformer do). The list's resourceVersion starts the watch; ADDED/MODIFIED/DELETED update the store;
/// BOOKMARK only advances the resourceVersion. 410 Gone (as an ERROR event or as the HTTP status of the watch)
/// means the resourceVersion is no longer served: the informer re-lists and diffs, so objects deleted while it was
/// not looking are deleted from the store too. Any other end of the watch resumes from the last resourceVersion,
/// after an exponential, jittered, capped backoff when it failed. A watchdog restarts a watch that delivers nothing
/// (not even a bookmark) for <see cref="InformerOptions.WatchdogTimeout"/>.
/// </summary>
public sealed class ResourceInformer<T> : IInformer
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly IResourceApi<T> _api;
    private readonly InformerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<T, bool> _filter;
    private readonly Action _onChanged;
    private readonly Lock _gate = new();
    private SortedDictionary<string, T> _store = new(StringComparer.Ordinal);
    private IReadOnlyList<T>? _snapshot;
    private HashSet<string> _changedKeys = new(StringComparer.Ordinal); // since the last TakeChangedKeys
    private string _resourceVersion = "";
    private volatile bool _hasSynced;

    private long _lists;
    private long _watchesStarted;
    private long _watchRestarts;
    private long _watchdogRestarts;
    private long _gone;
    private long _events;
    private long _bookmarks;
    private long _synthesizedDeletes;
    private DateTimeOffset? _lastSyncTime;
    private DateTimeOffset? _lastEventTime;
    private string? _lastError;

    /// <param name="filter">Objects to keep (e.g. Services with the expose annotation); an object that stops matching is removed.</param>
    /// <param name="onChanged">Called after the store changed (or first synced). Must be quick and must not throw.</param>
    public ResourceInformer(IResourceApi<T> api, InformerOptions options, TimeProvider time, ILogger logger, Action onChanged, Func<T, bool>? filter = null)
    {
        _api = api;
        _options = options;
        _time = time;
        _logger = logger;
        _onChanged = onChanged;
        _filter = filter ?? (_ => true);
    }

    public string Name => _api.Name;

    /// <summary>True once the first list has completed; stays true across re-lists (the old store is served until the new list is whole).</summary>
    public bool HasSynced => _hasSynced;

    public string ResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _resourceVersion;
            }
        }
    }

    public InformerStatus Status
    {
        get
        {
            lock (_gate)
            {
                var lists = Interlocked.Read(ref _lists);
                return new InformerStatus(Name, _hasSynced, _store.Count, _resourceVersion, lists, Math.Max(0, lists - 1),
                    Interlocked.Read(ref _watchesStarted), Interlocked.Read(ref _watchRestarts), Interlocked.Read(ref _watchdogRestarts),
                    Interlocked.Read(ref _gone), Interlocked.Read(ref _events), Interlocked.Read(ref _bookmarks),
                    Interlocked.Read(ref _synthesizedDeletes), _lastSyncTime, _lastEventTime, _lastError);
            }
        }
    }

    /// <summary>The objects in the store, ordered by namespace/name. The same list instance until the store changes.</summary>
    public IReadOnlyList<T> Snapshot()
    {
        lock (_gate)
        {
            return _snapshot ??= _store.Values.ToList();
        }
    }

    /// <summary>The keys (<see cref="KeyOf"/>) of the objects added, modified or removed since the last call.</summary>
    public IReadOnlyCollection<string> TakeChangedKeys()
    {
        lock (_gate)
        {
            var keys = _changedKeys;
            _changedKeys = new HashSet<string>(StringComparer.Ordinal);
            return keys;
        }
    }

    /// <summary>The object in the store under <paramref name="key"/>, or null.</summary>
    public T? Get(string key)
    {
        lock (_gate)
        {
            return _store.GetValueOrDefault(key);
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var failures = 0;
        var needList = true;
        var freshList = false; // the resourceVersion being watched came from a list, not from events
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (needList)
                {
                    try
                    {
                        await ListAsync(cancellationToken);
                        needList = false;
                        freshList = true;
                    }
                    catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                    {
                        var delay = Backoff(++failures);
                        SetError(e);
                        KubernetesSourceLog.ListFailed(_logger, Name, KubernetesSourceLog.Reason(e), delay);
                        KubernetesSourceLog.FailureDetail(_logger, e, Name);
                        await Task.Delay(delay, _time, cancellationToken);
                        continue;
                    }
                }

                var outcome = await WatchOnceAsync(cancellationToken);
                if (outcome.Delivered > 0)
                {
                    freshList = false;
                    failures = 0;
                }
                switch (outcome.Kind)
                {
                    case WatchEnd.Closed:
                        failures = 0;
                        break;
                    case WatchEnd.Gone:
                        Interlocked.Increment(ref _gone);
                        KubernetesSourceLog.WatchGone(_logger, Name, outcome.ResourceVersion);
                        needList = true;
                        if (freshList)
                        {
                            // 410 for a resourceVersion just listed: something is wrong server-side; do not re-list in a loop.
                            await Task.Delay(Backoff(++failures), _time, cancellationToken);
                        }
                        break;
                    case WatchEnd.Hung:
                        Interlocked.Increment(ref _watchRestarts);
                        Interlocked.Increment(ref _watchdogRestarts);
                        KubernetesSourceLog.WatchdogFired(_logger, Name, _options.WatchdogTimeout, outcome.ResourceVersion);
                        break;
                    case WatchEnd.Failed:
                        Interlocked.Increment(ref _watchRestarts);
                        var delay = Backoff(++failures);
                        if (outcome.Error is not null)
                        {
                            SetError(outcome.Error);
                        }
                        KubernetesSourceLog.WatchFailed(_logger, Name, KubernetesSourceLog.Reason(outcome.Error), outcome.ResourceVersion, delay);
                        if (outcome.Error is not null)
                        {
                            KubernetesSourceLog.FailureDetail(_logger, outcome.Error, Name);
                        }
                        await Task.Delay(delay, _time, cancellationToken);
                        break;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task ListAsync(CancellationToken cancellationToken)
    {
        var items = new List<T>();
        string? continueToken = null;
        string resourceVersion;
        do
        {
            var page = await _api.ListAsync(continueToken, _options.ListPageSize, cancellationToken);
            items.AddRange(page.Items);
            resourceVersion = page.ResourceVersion;
            continueToken = page.Continue;
        }
        while (continueToken is not null);

        var fresh = new SortedDictionary<string, T>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (_filter(item))
            {
                fresh[KeyOf(item)] = item;
            }
        }
        int added = 0, modified = 0, deleted = 0;
        bool first;
        lock (_gate)
        {
            foreach (var (key, item) in fresh)
            {
                if (!_store.TryGetValue(key, out var old))
                {
                    added++;
                    _changedKeys.Add(key);
                }
                else if (old.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
                {
                    modified++;
                    _changedKeys.Add(key);
                }
            }
            foreach (var key in _store.Keys)
            {
                if (!fresh.ContainsKey(key))
                {
                    deleted++;
                    _changedKeys.Add(key);
                }
            }
            first = !_hasSynced;
            _store = fresh;
            _snapshot = null;
            _resourceVersion = resourceVersion;
            _lastSyncTime = _time.GetUtcNow();
            _hasSynced = true;
        }
        Interlocked.Increment(ref _lists);
        if (!first)
        {
            Interlocked.Add(ref _synthesizedDeletes, deleted);
        }
        KubernetesSourceLog.Listed(_logger, Name, fresh.Count, resourceVersion, added, modified, deleted);
        if (first || added + modified + deleted > 0)
        {
            _onChanged();
        }
    }

    private enum WatchEnd
    {
        Closed,
        Gone,
        Hung,
        Failed,
    }

    private readonly record struct WatchOutcome(WatchEnd Kind, int Delivered, string ResourceVersion, Exception? Error = null);

    private async Task<WatchOutcome> WatchOnceAsync(CancellationToken cancellationToken)
    {
        var resourceVersion = ResourceVersion;
        var timeoutSeconds = (int)Math.Ceiling(_options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        using var watchdog = new CancellationTokenSource(_options.WatchdogTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, watchdog.Token);
        var started = _time.GetTimestamp();
        var delivered = 0;
        Interlocked.Increment(ref _watchesStarted);
        KubernetesSourceLog.WatchStarted(_logger, Name, resourceVersion, timeoutSeconds);
        try
        {
            await foreach (var (type, item) in _api.WatchAsync(resourceVersion, timeoutSeconds, OnWatchError, linked.Token).WithCancellation(linked.Token))
            {
                watchdog.CancelAfter(_options.WatchdogTimeout);
                delivered++;
                Apply(type, item);
            }
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception) when (watchdog.IsCancellationRequested)
        {
            return new WatchOutcome(WatchEnd.Hung, delivered, ResourceVersion);
        }
        catch (Exception e) when (ResourceApis.IsGone(e))
        {
            return new WatchOutcome(WatchEnd.Gone, delivered, ResourceVersion);
        }
        catch (Exception e) when (IsEmptyStream(e) && delivered == 0 && _time.GetElapsedTime(started) >= TimeSpan.FromSeconds(1))
        {
            // The library cannot open a watch whose stream ends before its first line: the server's timeout ran out
            // without a single event. That is a normal end.
            KubernetesSourceLog.WatchClosed(_logger, Name, 0, ResourceVersion);
            return new WatchOutcome(WatchEnd.Closed, 0, ResourceVersion);
        }
        catch (Exception e)
        {
            if (e is JsonException)
            {
                KubernetesSourceLog.Undecodable(_logger, Name, KubernetesSourceLog.Reason(e));
            }
            return new WatchOutcome(WatchEnd.Failed, delivered, ResourceVersion, e);
        }
        if (delivered == 0 && _time.GetElapsedTime(started) < TimeSpan.FromSeconds(1))
        {
            // A server that closes every watch at once would otherwise be asked again in a tight loop.
            return new WatchOutcome(WatchEnd.Failed, 0, ResourceVersion, new IOException("the watch ended at once without events"));
        }
        KubernetesSourceLog.WatchClosed(_logger, Name, delivered, ResourceVersion);
        return new WatchOutcome(WatchEnd.Closed, delivered, ResourceVersion);
    }

    /// <summary>
    /// The library reports ERROR events and undecodable lines here and otherwise carries on reading: rethrowing
    /// ends the watch, so a 410 Gone becomes a re-list instead of being lost.
    /// </summary>
    private static void OnWatchError(Exception e) => ExceptionDispatchInfo.Throw(e);

    private static bool IsEmptyStream(Exception e) =>
        e is EndOfStreamException || (e.InnerException is { } inner && IsEmptyStream(inner));

    private void Apply(WatchEventType type, T item)
    {
        var changed = false;
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            switch (type)
            {
                case WatchEventType.Added:
                case WatchEventType.Modified:
                    var key = KeyOf(item);
                    if (_filter(item))
                    {
                        _store[key] = item;
                        changed = true;
                    }
                    else
                    {
                        changed = _store.Remove(key);
                    }
                    if (changed)
                    {
                        _changedKeys.Add(key);
                    }
                    Interlocked.Increment(ref _events);
                    break;
                case WatchEventType.Deleted:
                    var deletedKey = KeyOf(item);
                    changed = _store.Remove(deletedKey);
                    if (changed)
                    {
                        _changedKeys.Add(deletedKey);
                    }
                    Interlocked.Increment(ref _events);
                    break;
                case WatchEventType.Bookmark:
                    Interlocked.Increment(ref _bookmarks);
                    break;
                default:
                    throw new KubernetesException(new V1Status { Code = 500, Message = $"unexpected watch event type {type}" });
            }
            if (!string.IsNullOrEmpty(item.Metadata?.ResourceVersion))
            {
                _resourceVersion = item.Metadata.ResourceVersion;
            }
            if (changed)
            {
                _snapshot = null;
            }
            _lastEventTime = now;
        }
        if (changed)
        {
            _onChanged();
        }
    }

    private TimeSpan Backoff(int failures) =>
        WatchBackoff.Delay(failures, _options.BackoffInitial, _options.BackoffMax, Random.Shared.NextDouble());

    private void SetError(Exception e)
    {
        lock (_gate)
        {
            _lastError = $"{_time.GetUtcNow():O} {KubernetesSourceLog.Reason(e)}";
        }
    }

    public static string KeyOf(T item) =>
        string.IsNullOrEmpty(item.Metadata?.NamespaceProperty) ? item.Metadata?.Name ?? "" : $"{item.Metadata.NamespaceProperty}/{item.Metadata.Name}";
}
