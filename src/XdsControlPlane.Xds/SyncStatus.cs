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
