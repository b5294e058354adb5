using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds;

/// <summary>The current snapshot (and when it was accepted) as one immutable pair.</summary>
public sealed record CurrentSnapshot(Snapshot Snapshot, DateTimeOffset AcceptedAt, long Generation)
{
    /// <summary>False until the first snapshot is accepted: until then nothing is served.</summary>
    public bool IsApplied => Generation > 0;
}
