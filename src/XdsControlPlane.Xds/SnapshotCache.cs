using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds;

/// <summary>
/// Holds the one current snapshot all streams serve. A new snapshot is checked for consistency and
/// swapped in atomically, or rejected with the previous one kept; on accept every stream is woken.
/// Streams never copy resources: they hold references into the shared, immutable snapshot.
/// </summary>
public sealed class SnapshotCache
{
    private readonly ConcurrentDictionary<long, Action> _watchers = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _setLock = new();
    private CurrentSnapshot _current;
    private long _nextWatcher;

    public SnapshotCache(ILogger<SnapshotCache>? logger = null, TimeProvider? time = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _current = new CurrentSnapshot(Snapshot.Empty, _time.GetUtcNow(), 0);
    }

    /// <summary>The snapshot being served, whatever the node.</summary>
    public CurrentSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Snapshots rejected since start (inconsistent).</summary>
    public long RejectedCount => Interlocked.Read(ref _rejected);

    private long _rejected;

    /// <summary>
    /// Serves <paramref name="snapshot"/> if it is consistent; otherwise keeps the current one.
    /// Returns false with the problems when rejected. Setting a snapshot equal in content to the current
    /// one is accepted and wakes nobody (versions are content hashes, nothing would be sent anyway).
    /// </summary>
    public bool TrySetSnapshot(Snapshot snapshot, out IReadOnlyList<string> problems)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        // Against the snapshot being served (it passed this check): a snapshot derived from it is checked
        // only where it differs.
        var served = Current;
        problems = SnapshotConsistency.Check(snapshot, served.IsApplied ? served.Snapshot : null);
        if (problems.Count > 0)
        {
            Interlocked.Increment(ref _rejected);
            XdsLog.SnapshotRejected(_logger, snapshot.Version, Current.Snapshot.Version, string.Join("; ", problems.Take(20)));
            return false;
        }
        lock (_setLock)
        {
            var previous = _current;
            if (previous.IsApplied && previous.Snapshot.Version == snapshot.Version)
            {
                return true;
            }
            Volatile.Write(ref _current, new CurrentSnapshot(snapshot, _time.GetUtcNow(), previous.Generation + 1));
        }
        XdsLog.SnapshotAccepted(_logger, snapshot.Version, snapshot.ByType.Values.Sum(s => s.Resources.Count), _watchers.Count);
        foreach (var wake in _watchers.Values)
        {
            wake();
        }
        return true;
    }

    /// <inheritdoc cref="TrySetSnapshot(Snapshot, out IReadOnlyList{string})"/>
    public bool TrySetSnapshot(Snapshot snapshot) => TrySetSnapshot(snapshot, out _);

    /// <summary>Calls <paramref name="wake"/> (which must not block) after every accepted snapshot until disposed.</summary>
    internal IDisposable Watch(Action wake)
    {
        var id = Interlocked.Increment(ref _nextWatcher);
        _watchers[id] = wake;
        return new Unwatch(this, id);
    }

    private sealed class Unwatch(SnapshotCache cache, long id) : IDisposable
    {
        public void Dispose() => cache._watchers.TryRemove(id, out _);
    }
}
