namespace XdsControlPlane.Xds;

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
