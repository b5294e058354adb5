using Prometheus;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds;

/// <summary>
/// Counters of the xDS server as prometheus-net collectors in one <see cref="CollectorRegistry"/> (the host's: served at
/// <c>/metrics</c> with everything else it registers). The names are the ones the hand-written exposition had, so
/// dashboards keep working. Snapshot gauges are read from the cache when scraped (<see cref="Observe"/>).
/// </summary>
public sealed class XdsMetrics
{
    private static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly string[] Types = [.. TypeUrls.PushOrder];

    /// <summary>Label values of <c>xds_refused_total</c>, indexed by <see cref="XdsRefusal"/>.</summary>
    private static readonly string[] RefusalNames =
        ["node", "tls_handshake", "request_bytes", "resource_names", "subscription_names", "subscription_bytes", "node_bytes", "connections", "write_timeout"];

    private readonly Gauge _connected;
    private readonly Counter _streamsOpened;
    private readonly Counter _streamsClosed;
    private readonly Counter _pushes;
    private readonly Counter _acks;
    private readonly Counter _nacks;
    private readonly Counter _staleNonces;
    private readonly Counter _unknownTypes;
    private readonly Counter _invalidRequests;
    private readonly Counter _snapshotsRejected;
    private readonly Histogram _pushLatency;
    private readonly Gauge _snapshotInfo;
    private readonly Gauge _snapshotResources;
    private readonly Gauge _snapshotBytes;
    private readonly Counter.Child[] _pushesByType;
    private readonly Counter.Child[] _acksByType;
    private readonly Counter.Child[] _nacksByType;
    private readonly Counter.Child[] _refusedByReason;
    private readonly Gauge _connections;
    private readonly Histogram _writeBudgetWait;
    private readonly Gauge _writeBytes;
    private readonly Gauge _writeBytesMax;
    private readonly Gauge _writeBudgetWaiting;
    private long _writeBytesInFlight;
    private long _writeBytesHighWater;
    private readonly Lock _collect = new();
    private string? _lastVersion;
    private int _observing;

    /// <param name="registry">Where the collectors live; null = a registry of their own (tests that make many engines).</param>
    public XdsMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _connected = factory.CreateGauge("xds_connected_streams", "xDS streams open now.", "protocol");
        _streamsOpened = factory.CreateCounter("xds_streams_opened_total", "xDS streams accepted since start.");
        _streamsClosed = factory.CreateCounter("xds_streams_closed_total", "xDS streams closed since start.");
        _pushes = factory.CreateCounter("xds_pushes_total", "Responses sent, by type.", "type");
        _acks = factory.CreateCounter("xds_acks_total", "ACKs received, by type.", "type");
        _nacks = factory.CreateCounter("xds_nacks_total", "NACKs (rejected configuration) received, by type.", "type");
        _staleNonces = factory.CreateCounter("xds_stale_nonce_requests_total", "Requests ignored because their nonce was stale.");
        _unknownTypes = factory.CreateCounter("xds_unknown_type_requests_total", "Requests for a type this server does not serve.");
        _invalidRequests = factory.CreateCounter("xds_invalid_requests_total", "Streams ended with INVALID_ARGUMENT or RESOURCE_EXHAUSTED.");
        _snapshotsRejected = factory.CreateCounter("xds_snapshots_rejected_total", "Inconsistent snapshots rejected (the previous one kept).");
        _pushLatency = factory.CreateHistogram("xds_push_latency_seconds", "Time from a snapshot being accepted to a stream having written it.",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _snapshotInfo = factory.CreateGauge("xds_snapshot_info", "The snapshot being served (value is its generation).", "version");
        _snapshotResources = factory.CreateGauge("xds_snapshot_resources", "Resources in the snapshot, by type.", "type");
        _snapshotBytes = factory.CreateGauge("xds_snapshot_bytes", "Serialised size of the snapshot, by type.", "type");
        // Every series exists from the start (at zero), as the hand-written exposition had them.
        _connected.WithLabels("sotw").Set(0);
        _connected.WithLabels("delta").Set(0);
        // Children resolved once: the hot path indexes an array instead of looking labels up.
        _pushesByType = [.. Types.Select(t => _pushes.WithLabels(Short(t)))];
        _acksByType = [.. Types.Select(t => _acks.WithLabels(Short(t)))];
        _nacksByType = [.. Types.Select(t => _nacks.WithLabels(Short(t)))];
        var refused = factory.CreateCounter("xds_refused_total", "Clients refused or cut off, by the check or limit that did it (docs/security.md).", "reason");
        _refusedByReason = [.. RefusalNames.Select(r => refused.WithLabels(r))];
        _connections = factory.CreateGauge("xds_connections", "Connections open now on the xDS listener.");
        _writeBudgetWait = factory.CreateHistogram("xds_write_budget_wait_seconds",
            "Time a response waited for the server-wide write budget before its write began (only writes that waited).",
            new HistogramConfiguration { Buckets = LatencyBuckets });
        _writeBytes = factory.CreateGauge("xds_write_bytes_in_flight", "Serialised response bytes being written now, over every stream.");
        _writeBudgetWaiting = factory.CreateGauge("xds_write_budget_waiting", "Responses waiting now for the write budget.");
        _writeBytesMax = factory.CreateGauge("xds_write_bytes_in_flight_max", "The most response bytes in flight at once since start.");
    }

    /// <summary>The registry these collectors are in.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Reads the snapshot gauges and the rejection count from <paramref name="cache"/> whenever the registry is scraped. Once.</summary>
    public void Observe(SnapshotCache cache)
    {
        if (Interlocked.Exchange(ref _observing, 1) != 0)
        {
            return;
        }
        Registry.AddBeforeCollectCallback(() =>
        {
            using var _ = _collect.EnterScope(); // two scrapes at once must not both swap the info series
            var current = cache.Current;
            _snapshotsRejected.IncTo(cache.RejectedCount);
            var version = current.Snapshot.Version;
            if (_lastVersion is { } last && last != version)
            {
                _snapshotInfo.RemoveLabelled(last);
            }
            _lastVersion = version;
            _snapshotInfo.WithLabels(version).Set(current.Generation);
            foreach (var type in Types)
            {
                var resources = current.Snapshot.Get(type).Resources;
                _snapshotResources.WithLabels(Short(type)).Set(resources.Count);
                _snapshotBytes.WithLabels(Short(type)).Set(resources.Values.Sum(r => (long)r.Bytes.Length));
            }
        });
    }

    internal void StreamOpened(bool delta)
    {
        _streamsOpened.Inc();
        _connected.WithLabels(delta ? "delta" : "sotw").Inc();
    }

    internal void StreamClosed(bool delta)
    {
        _streamsClosed.Inc();
        _connected.WithLabels(delta ? "delta" : "sotw").Dec();
    }

    internal void Pushed(string typeUrl) => Count(_pushesByType, typeUrl);

    internal void Acked(string typeUrl) => Count(_acksByType, typeUrl);

    internal void Nacked(string typeUrl) => Count(_nacksByType, typeUrl);

    internal void StaleNonce() => _staleNonces.Inc();

    internal void UnknownType() => _unknownTypes.Inc();

    internal void InvalidRequest() => _invalidRequests.Inc();

    internal void Refused(XdsRefusal reason) => _refusedByReason[(int)reason].Inc();

    internal void ConnectionOpened() => _connections.Inc();

    internal void ConnectionClosed() => _connections.Dec();

    /// <summary>How many times <paramref name="reason"/> refused a client since start.</summary>
    public long RefusedCount(XdsRefusal reason) => (long)_refusedByReason[(int)reason].Value;

    /// <summary>Time from a snapshot being accepted to a stream having written it.</summary>
    internal void PushLatency(TimeSpan latency) => _pushLatency.Observe(Math.Max(0, latency.TotalSeconds));

    internal void WriteBudgetWaitStarted() => _writeBudgetWaiting.Inc();

    /// <summary>Responses waiting now for the write budget.</summary>
    public long WriteBudgetWaiting => (long)_writeBudgetWaiting.Value;

    /// <summary>A response waited this long for the write budget (<see cref="XdsServerOptions.WriteBudgetBytes"/>).</summary>
    internal void WriteBudgetWaited(TimeSpan wait, bool granted)
    {
        _writeBudgetWaiting.Dec();
        if (granted)
        {
            _writeBudgetWait.Observe(Math.Max(0, wait.TotalSeconds));
        }
    }

    /// <summary>A write of <paramref name="bytes"/> began (counted from when the budget is granted until the write ends).</summary>
    internal void WriteStarted(long bytes)
    {
        var now = Interlocked.Add(ref _writeBytesInFlight, bytes);
        var high = Interlocked.Read(ref _writeBytesHighWater);
        while (now > high)
        {
            var seen = Interlocked.CompareExchange(ref _writeBytesHighWater, now, high);
            if (seen == high)
            {
                _writeBytesMax.IncTo(now);
                break;
            }
            high = seen;
        }
        _writeBytes.Inc(bytes);
    }

    internal void WriteEnded(long bytes)
    {
        Interlocked.Add(ref _writeBytesInFlight, -bytes);
        _writeBytes.Dec(bytes);
    }

    /// <summary>Response bytes being written now.</summary>
    public long WriteBytesInFlight => Interlocked.Read(ref _writeBytesInFlight);

    /// <summary>The most response bytes that were being written at once since start.</summary>
    public long WriteBytesHighWater => Interlocked.Read(ref _writeBytesHighWater);

    /// <summary>How many writes had to wait for the write budget.</summary>
    public long WriteBudgetWaits => _writeBudgetWait.Count;

    public long TotalNacks => (long)_nacksByType.Sum(c => c.Value);

    private static void Count(Counter.Child[] children, string typeUrl)
    {
        var i = Array.IndexOf(Types, typeUrl);
        if (i >= 0)
        {
            children[i].Inc();
        }
    }

    private static string Short(string typeUrl) => typeUrl[(typeUrl.LastIndexOf('.') + 1)..];
}
