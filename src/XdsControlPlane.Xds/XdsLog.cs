using Microsoft.Extensions.Logging;

namespace XdsControlPlane.Xds;

/// <summary>Every log event of the xDS server, source-generated, each with a stable id and name.</summary>
internal static partial class XdsLog
{
    [LoggerMessage(EventId = 1, EventName = "SnapshotAccepted", Level = LogLevel.Information,
        Message = "Snapshot {Version} accepted ({ResourceCount} resources); waking {StreamCount} streams")]
    public static partial void SnapshotAccepted(ILogger logger, string version, int resourceCount, int streamCount);

    [LoggerMessage(EventId = 2, EventName = "SnapshotRejected", Level = LogLevel.Error,
        Message = "Snapshot {Version} rejected, keeping {KeptVersion}: {Problems}")]
    public static partial void SnapshotRejected(ILogger logger, string version, string keptVersion, string problems);

    [LoggerMessage(EventId = 10, EventName = "StreamOpened", Level = LogLevel.Information,
        Message = "{StreamKind} stream {StreamId} opened by node {NodeId} (cluster {NodeCluster}, {UserAgent})")]
    public static partial void StreamOpened(ILogger logger, string streamKind, long streamId, string nodeId, string nodeCluster, string userAgent);

    [LoggerMessage(EventId = 11, EventName = "StreamClosed", Level = LogLevel.Information,
        Message = "{StreamKind} stream {StreamId} of node {NodeId} closed")]
    public static partial void StreamClosed(ILogger logger, string streamKind, long streamId, string nodeId);

    // EventId 12 (StreamFailed) was never logged and is retired: not to be reused, so a filter on an id keeps its meaning.

    // A client going away (Envoy restarting, a connection reset) is the ordinary end of a stream: one Debug line with
    // the reason, never an exception with its stack.
    [LoggerMessage(EventId = 13, EventName = "ClientGone", Level = LogLevel.Debug,
        Message = "{StreamKind} stream {StreamId} of node {NodeId} ended by the client: {Reason}")]
    public static partial void ClientGone(ILogger logger, string streamKind, long streamId, string nodeId, string reason);

    [LoggerMessage(EventId = 20, EventName = "Nack", Level = LogLevel.Warning,
        Message = "Node {NodeId} rejected {TypeUrl} version {Version} (nonce {Nonce}): {Error}")]
    public static partial void Nack(ILogger logger, string nodeId, string typeUrl, string version, string nonce, string error);

    [LoggerMessage(EventId = 21, EventName = "StaleNonce", Level = LogLevel.Debug,
        Message = "Node {NodeId} sent a {TypeUrl} request with stale nonce {Nonce}; ignored")]
    public static partial void StaleNonce(ILogger logger, string nodeId, string typeUrl, string nonce);

    [LoggerMessage(EventId = 22, EventName = "UnknownTypeUrl", Level = LogLevel.Warning,
        Message = "Node {NodeId} requested unknown type {TypeUrl}; ignored")]
    public static partial void UnknownTypeUrl(ILogger logger, string nodeId, string typeUrl);

    [LoggerMessage(EventId = 23, EventName = "InvalidRequest", Level = LogLevel.Warning,
        Message = "Rejected a request on a {StreamKind} stream: {Reason}")]
    public static partial void InvalidRequest(ILogger logger, string streamKind, string reason);

    [LoggerMessage(EventId = 24, EventName = "ResponseFailed", Level = LogLevel.Error,
        Message = "Could not build the {Kind} response for node {Node}; the stream is ended with status INTERNAL and Envoy will reconnect. This is a server bug: report it with this message")]
    public static partial void ResponseFailed(ILogger logger, Exception exception, string kind, string node);

    [LoggerMessage(EventId = 25, EventName = "NodeRefused", Level = LogLevel.Warning,
        Message = "Refused a {StreamKind} stream of node {NodeId} (cluster {NodeCluster}) with PERMISSION_DENIED: only node {ServedId} (cluster {ServedCluster}) is served")]
    public static partial void NodeRefused(ILogger logger, string streamKind, string nodeId, string nodeCluster, string servedId, string servedCluster);

    [LoggerMessage(EventId = 26, EventName = "WriteTimedOut", Level = LogLevel.Warning,
        Message = "{StreamKind} stream {StreamId} of node {NodeId} did not read a response within {Seconds} s; the stream is reset and its pending response dropped")]
    public static partial void WriteTimedOut(ILogger logger, string streamKind, long streamId, string nodeId, double seconds);

    [LoggerMessage(EventId = 27, EventName = "ConnectionRefused", Level = LogLevel.Warning,
        Message = "Refused an xDS connection from {Remote}: {Open} connections open, the limit is {Limit}")]
    public static partial void ConnectionRefused(ILogger logger, string remote, long open, int limit);

    [LoggerMessage(EventId = 28, EventName = "TlsHandshakeRefused", Level = LogLevel.Warning,
        Message = "Refused a TLS handshake on the xDS listener from {Remote}: {Reason}")]
    public static partial void TlsHandshakeRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 29, EventName = "TlsFilesReloaded", Level = LogLevel.Information,
        Message = "xDS TLS files reloaded: server certificate {Subject} (expires {NotAfter:u}), {CaCount} client CA certificates")]
    public static partial void TlsFilesReloaded(ILogger logger, string subject, DateTime notAfter, int caCount);

    [LoggerMessage(EventId = 31, EventName = "TlsFilesUnreadable", Level = LogLevel.Error,
        Message = "xDS TLS files changed but cannot be loaded; the previous certificates stay in use: {Reason}")]
    public static partial void TlsFilesUnreadable(ILogger logger, string reason);

    [LoggerMessage(EventId = 30, EventName = "Pushed", Level = LogLevel.Debug,
        Message = "Sent {TypeUrl} version {Version} nonce {Nonce} ({ResourceCount} resources, {RemovedCount} removed) to node {NodeId}")]
    public static partial void Pushed(ILogger logger, string typeUrl, string version, string nonce, int resourceCount, int removedCount, string nodeId);
}
