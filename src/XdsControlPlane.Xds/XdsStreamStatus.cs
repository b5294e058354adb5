namespace XdsControlPlane.Xds;

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
