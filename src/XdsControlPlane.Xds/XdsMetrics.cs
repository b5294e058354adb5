using System.Globalization;
using System.Text;
using XdsControlPlane.Compiler.Snapshots;

namespace XdsControlPlane.Xds;

/// <summary>Counters of the xDS server, rendered as Prometheus text at <c>/metrics</c>. Lock-free.</summary>
public sealed class XdsMetrics
{
    private static readonly double[] LatencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly string[] Types = [.. TypeUrls.PushOrder];

    private readonly long[] _pushes = new long[Types.Length];
    private readonly long[] _acks = new long[Types.Length];
    private readonly long[] _nacks = new long[Types.Length];
    private readonly long[] _latencyCounts = new long[LatencyBuckets.Length + 1];
    private long _latencySumMicros;
    private long _staleNonces;
    private long _unknownTypes;
    private long _invalidRequests;
    private long _streamsOpened;
    private long _streamsClosed;
    private long _connectedSotw;
    private long _connectedDelta;
    private readonly long[] _refused = new long[RefusalNames.Length];
    private long _connections;

    /// <summary>Label values of <c>xds_refused_total</c>, indexed by <see cref="XdsRefusal"/>.</summary>
    private static readonly string[] RefusalNames =
        ["node", "tls_handshake", "request_bytes", "resource_names", "subscription_names", "subscription_bytes", "node_bytes", "connections", "write_timeout"];

    internal void StreamOpened(bool delta)
    {
        Interlocked.Increment(ref _streamsOpened);
        Interlocked.Increment(ref delta ? ref _connectedDelta : ref _connectedSotw);
    }

    internal void StreamClosed(bool delta)
    {
        Interlocked.Increment(ref _streamsClosed);
        Interlocked.Decrement(ref delta ? ref _connectedDelta : ref _connectedSotw);
    }

    internal void Pushed(string typeUrl) => Count(_pushes, typeUrl);

    internal void Acked(string typeUrl) => Count(_acks, typeUrl);

    internal void Nacked(string typeUrl) => Count(_nacks, typeUrl);

    internal void StaleNonce() => Interlocked.Increment(ref _staleNonces);

    internal void UnknownType() => Interlocked.Increment(ref _unknownTypes);

    internal void InvalidRequest() => Interlocked.Increment(ref _invalidRequests);

    internal void Refused(XdsRefusal reason) => Interlocked.Increment(ref _refused[(int)reason]);

    internal void ConnectionOpened() => Interlocked.Increment(ref _connections);

    internal void ConnectionClosed() => Interlocked.Decrement(ref _connections);

    /// <summary>How many times <paramref name="reason"/> refused a client since start.</summary>
    public long RefusedCount(XdsRefusal reason) => Interlocked.Read(ref _refused[(int)reason]);

    /// <summary>Time from a snapshot being accepted to a stream having written it.</summary>
    internal void PushLatency(TimeSpan latency)
    {
        var seconds = Math.Max(0, latency.TotalSeconds);
        var bucket = 0;
        while (bucket < LatencyBuckets.Length && seconds > LatencyBuckets[bucket])
        {
            bucket++;
        }
        Interlocked.Increment(ref _latencyCounts[bucket]);
        Interlocked.Add(ref _latencySumMicros, (long)(seconds * 1_000_000));
    }

    public long TotalPushes => Sum(_pushes);

    public long TotalNacks => Sum(_nacks);

    private static long Sum(long[] values)
    {
        long total = 0;
        for (var i = 0; i < values.Length; i++)
        {
            total += Interlocked.Read(ref values[i]);
        }
        return total;
    }

    private static void Count(long[] counters, string typeUrl)
    {
        var i = Array.IndexOf(Types, typeUrl);
        if (i >= 0)
        {
            Interlocked.Increment(ref counters[i]);
        }
    }

    /// <summary>Prometheus text exposition format 0.0.4.</summary>
    public string Render(CurrentSnapshot current, long snapshotsRejected)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        Gauge(sb, "xds_connected_streams", "xDS streams open now.");
        sb.Append(inv, $"xds_connected_streams{{protocol=\"sotw\"}} {Interlocked.Read(ref _connectedSotw)}\n");
        sb.Append(inv, $"xds_connected_streams{{protocol=\"delta\"}} {Interlocked.Read(ref _connectedDelta)}\n");
        Counter(sb, "xds_streams_opened_total", "xDS streams accepted since start.", Interlocked.Read(ref _streamsOpened));
        Counter(sb, "xds_streams_closed_total", "xDS streams closed since start.", Interlocked.Read(ref _streamsClosed));
        PerType(sb, "xds_pushes_total", "Responses sent, by type.", _pushes);
        PerType(sb, "xds_acks_total", "ACKs received, by type.", _acks);
        PerType(sb, "xds_nacks_total", "NACKs (rejected configuration) received, by type.", _nacks);
        Counter(sb, "xds_stale_nonce_requests_total", "Requests ignored because their nonce was stale.", Interlocked.Read(ref _staleNonces));
        Counter(sb, "xds_unknown_type_requests_total", "Requests for a type this server does not serve.", Interlocked.Read(ref _unknownTypes));
        Counter(sb, "xds_invalid_requests_total", "Streams ended with INVALID_ARGUMENT or RESOURCE_EXHAUSTED.", Interlocked.Read(ref _invalidRequests));
        sb.Append("# HELP xds_refused_total Clients refused or cut off, by the check or limit that did it (docs/security.md).\n# TYPE xds_refused_total counter\n");
        for (var i = 0; i < RefusalNames.Length; i++)
        {
            sb.Append(inv, $"xds_refused_total{{reason=\"{RefusalNames[i]}\"}} {Interlocked.Read(ref _refused[i])}\n");
        }
        Gauge(sb, "xds_connections", "Connections open now on the xDS listener.");
        sb.Append(inv, $"xds_connections {Interlocked.Read(ref _connections)}\n");
        Counter(sb, "xds_snapshots_rejected_total", "Inconsistent snapshots rejected (the previous one kept).", snapshotsRejected);

        sb.Append("# HELP xds_push_latency_seconds Time from a snapshot being accepted to a stream having written it.\n");
        sb.Append("# TYPE xds_push_latency_seconds histogram\n");
        long cumulative = 0;
        for (var i = 0; i < LatencyBuckets.Length; i++)
        {
            cumulative += Interlocked.Read(ref _latencyCounts[i]);
            sb.Append(inv, $"xds_push_latency_seconds_bucket{{le=\"{LatencyBuckets[i]}\"}} {cumulative}\n");
        }
        cumulative += Interlocked.Read(ref _latencyCounts[^1]);
        sb.Append(inv, $"xds_push_latency_seconds_bucket{{le=\"+Inf\"}} {cumulative}\n");
        sb.Append(inv, $"xds_push_latency_seconds_sum {Interlocked.Read(ref _latencySumMicros) / 1_000_000.0}\n");
        sb.Append(inv, $"xds_push_latency_seconds_count {cumulative}\n");

        Gauge(sb, "xds_snapshot_info", "The snapshot being served (value is its generation).");
        sb.Append(inv, $"xds_snapshot_info{{version=\"{current.Snapshot.Version}\"}} {current.Generation}\n");
        Gauge(sb, "xds_snapshot_resources", "Resources in the snapshot, by type.");
        foreach (var type in Types)
        {
            sb.Append(inv, $"xds_snapshot_resources{{type=\"{Short(type)}\"}} {current.Snapshot.Get(type).Resources.Count}\n");
        }
        Gauge(sb, "xds_snapshot_bytes", "Serialised size of the snapshot, by type.");
        foreach (var type in Types)
        {
            sb.Append(inv, $"xds_snapshot_bytes{{type=\"{Short(type)}\"}} {current.Snapshot.Get(type).Resources.Values.Sum(r => (long)r.Bytes.Length)}\n");
        }
        return sb.ToString();
    }

    private static string Short(string typeUrl) => typeUrl[(typeUrl.LastIndexOf('.') + 1)..];

    private static void Gauge(StringBuilder sb, string name, string help) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" gauge\n");

    private static void Counter(StringBuilder sb, string name, string help, long value) =>
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" counter\n")
          .Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');

    private static void PerType(StringBuilder sb, string name, string help, long[] values)
    {
        sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(" counter\n");
        for (var i = 0; i < Types.Length; i++)
        {
            sb.Append(name).Append("{type=\"").Append(Short(Types[i])).Append("\"} ")
              .Append(Interlocked.Read(ref values[i]).ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}

/// <summary>Why a client was refused or cut off; the <c>reason</c> label of <c>xds_refused_total</c>.</summary>
public enum XdsRefusal
{
    /// <summary>A node id or cluster other than the configured one (PERMISSION_DENIED).</summary>
    Node,

    /// <summary>A TLS handshake failed: no client certificate, or one the client CA bundle does not vouch for.</summary>
    TlsHandshake,

    /// <summary>A request larger than <see cref="XdsServerOptions.MaxRequestBytes"/>.</summary>
    RequestBytes,

    /// <summary>A request naming more than <see cref="XdsServerOptions.MaxResourceNamesPerRequest"/> resources.</summary>
    ResourceNames,

    /// <summary>More than <see cref="XdsServerOptions.MaxSubscribedNamesPerType"/> names subscribed for one type.</summary>
    SubscriptionNames,

    /// <summary>More than <see cref="XdsServerOptions.MaxSubscribedNameBytesPerType"/> bytes of names for one type.</summary>
    SubscriptionBytes,

    /// <summary>A node larger than <see cref="XdsServerOptions.MaxNodeBytes"/>.</summary>
    NodeBytes,

    /// <summary>A connection beyond <see cref="XdsServerOptions.MaxConnections"/>.</summary>
    Connections,

    /// <summary>A response write that did not finish within <see cref="XdsServerOptions.WriteTimeout"/>.</summary>
    WriteTimeout,
}
