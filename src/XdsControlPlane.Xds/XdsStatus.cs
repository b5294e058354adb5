namespace XdsControlPlane.Xds;

/// <summary>Istio-style sync status of one node for one type.</summary>
public enum SyncStatus
{
    /// <summary>Nothing of this type has been sent on the stream.</summary>
    NotSent,

    /// <summary>The latest response was ACKed.</summary>
    Synced,

    /// <summary>A response was sent and is not (yet) ACKed.</summary>
    Stale,

    /// <summary>The latest response was NACKed.</summary>
    Error,
}

/// <summary>A rejected version and why.</summary>
public sealed record XdsNack(string Version, string Nonce, string Message, DateTimeOffset At);

/// <summary>What one stream knows about one resource type.</summary>
public sealed record XdsTypeStatus(
    string TypeUrl,
    SyncStatus Status,
    string? VersionSent,
    string? NonceSent,
    DateTimeOffset? SentAt,
    string? VersionAcked,
    DateTimeOffset? AckedAt,
    XdsNack? LastNack,
    long NackCount,
    bool Wildcard,
    int SubscribedNames,
    IReadOnlyList<KeyValuePair<string, string>> ResourcesSent);

/// <summary>One xDS stream of one node.</summary>
public sealed record XdsStreamStatus(
    long StreamId,
    string NodeId,
    string NodeCluster,
    string StreamKind,
    DateTimeOffset ConnectedSince,
    DateTimeOffset? DisconnectedAt,
    string UserAgent,
    string BuildVersion,
    IReadOnlyList<string> ClientFeatures,
    IReadOnlyList<XdsTypeStatus> Types,
    IReadOnlyList<string> UnknownTypeUrls);

/// <summary>The per-node view behind <c>/debug/syncz</c> and CSDS.</summary>
public interface IXdsStatus
{
    /// <summary>Streams open now.</summary>
    IReadOnlyList<XdsStreamStatus> Connected();

    /// <summary>The last few closed streams (bounded; their memory is released, only this record is kept).</summary>
    IReadOnlyList<XdsStreamStatus> RecentlyDisconnected();
}
