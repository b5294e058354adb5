using System.Collections.Concurrent;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// The one protocol engine behind every xDS service: it runs streams against the snapshot cache and keeps
/// the registry of open streams (the status view). A closed stream leaves only a small status record,
/// in a bounded list.
/// </summary>
/// <remarks>
/// TTL: this server never sends TTL-wrapped resources or heartbeats, to any client (clients advertising
/// <c>xds.config.supports-resource-ttl</c> included), so Envoy keeps its last config while the server is away.
/// After a cluster change, SotW streams answer the next EDS request for it (over ADS and across a node's
/// per-type streams); delta streams do not yet (a delta client that re-subscribes is answered anyway).
/// </remarks>
public sealed class XdsEngine : IXdsStatus
{
    private readonly ConcurrentDictionary<long, XdsStream> _streams = new();
    private readonly ConcurrentQueue<XdsStreamStatus> _disconnected = new();
    private long _nextStreamId;

    public XdsEngine(SnapshotCache cache, XdsMetrics metrics, IOptions<XdsServerOptions>? options = null,
        ILogger<XdsEngine>? logger = null, TimeProvider? time = null)
    {
        Cache = cache;
        Metrics = metrics;
        Options = options?.Value ?? new XdsServerOptions();
        Logger = (ILogger?)logger ?? NullLogger.Instance;
        Time = time ?? TimeProvider.System;
        WriteBudget = new WriteBudget(Options.WriteBudgetBytes);
    }

    public SnapshotCache Cache { get; }

    public XdsMetrics Metrics { get; }

    internal XdsServerOptions Options { get; }

    internal ILogger Logger { get; }

    internal TimeProvider Time { get; }

    /// <summary>The response bytes every stream of this server may be writing at once.</summary>
    internal WriteBudget WriteBudget { get; }

    /// <summary>Serves one state-of-the-world stream; <paramref name="fixedType"/> is null for ADS.</summary>
    public Task RunSotwAsync(string kind, string? fixedType, IAsyncStreamReader<DiscoveryRequest> requests,
        IServerStreamWriter<DiscoveryResponse> responses, ServerCallContext context) =>
        new SotwStream(this, Interlocked.Increment(ref _nextStreamId), kind, fixedType).RunAsync(requests, responses, context);

    /// <summary>Serves one incremental (delta) stream; <paramref name="fixedType"/> is null for ADS.</summary>
    public Task RunDeltaAsync(string kind, string? fixedType, IAsyncStreamReader<DeltaDiscoveryRequest> requests,
        IServerStreamWriter<DeltaDiscoveryResponse> responses, ServerCallContext context) =>
        new DeltaStream(this, Interlocked.Increment(ref _nextStreamId), kind + "-delta", fixedType).RunAsync(requests, responses, context);

    internal void Register(XdsStream stream)
    {
        _streams[stream.Id] = stream;
        Metrics.StreamOpened(stream.IsDelta);
        XdsLog.StreamOpened(Logger, stream.Kind, stream.Id, stream.Node.Id, stream.Node.Cluster, stream.NodeInfo?.UserAgent ?? "");
    }

    internal void Unregister(XdsStream stream)
    {
        if (!_streams.TryRemove(stream.Id, out _))
        {
            return;
        }
        Metrics.StreamClosed(stream.IsDelta);
        XdsLog.StreamClosed(Logger, stream.Kind, stream.Id, stream.Node.Id);
        _disconnected.Enqueue(stream.GetStatus());
        while (_disconnected.Count > Options.DisconnectedHistory && _disconnected.TryDequeue(out _))
        {
        }
    }

    /// <summary>Tells the node's other streams that these EDS names belong to clusters just sent.</summary>
    internal void ClustersChanged(XdsStream source, IReadOnlyCollection<string> edsNames)
    {
        foreach (var stream in _streams.Values)
        {
            if (!ReferenceEquals(stream, source) && stream.Node == source.Node)
            {
                stream.OnClustersChanged(edsNames);
            }
        }
    }

    public int ConnectedCount => _streams.Count;

    public IReadOnlyList<XdsStreamStatus> Connected() =>
        [.. _streams.Values.OrderBy(s => s.Id).Select(s => s.GetStatus())];

    public IReadOnlyList<XdsStreamStatus> RecentlyDisconnected() => [.. _disconnected];
}
