namespace XdsControlPlane.Xds.Planning;

/// <summary>The ACK/NACK bookkeeping of one type on one stream (guarded by the stream's lock).</summary>
internal sealed class TypeTracker(string typeUrl)
{
    public string TypeUrl { get; } = typeUrl;

    public string? VersionSent { get; private set; }

    public string? NonceSent { get; private set; }

    public DateTimeOffset? SentAt { get; private set; }

    public string? VersionAcked { get; private set; }

    public DateTimeOffset? AckedAt { get; private set; }

    public bool LatestAcked { get; private set; }

    public XdsNack? LastNack { get; private set; }

    public long NackCount { get; private set; }

    public void Sent(string version, string? nonce, DateTimeOffset at)
    {
        VersionSent = version;
        NonceSent = nonce;
        SentAt = at;
        LatestAcked = false;
    }

    /// <summary>A reconnecting client already holds <paramref name="version"/>: nothing is sent, it counts as ACKed.</summary>
    public void AlreadyHeld(string version, DateTimeOffset at)
    {
        VersionSent = version;
        VersionAcked = version;
        SentAt = at;
        AckedAt = at;
        LatestAcked = true;
    }

    public void Ack(string version, bool latest, DateTimeOffset at)
    {
        VersionAcked = version;
        AckedAt = at;
        LatestAcked |= latest;
    }

    /// <summary>Records a NACK; returns false when it repeats the last one (same nonce): not worth another log line.</summary>
    public bool Nack(string version, string nonce, string message, DateTimeOffset at)
    {
        var repeated = LastNack is { } last && last.Nonce == nonce && last.Message == message;
        LastNack = new XdsNack(version, nonce, message, at);
        NackCount++;
        return !repeated;
    }

    public SyncStatus Status =>
        VersionSent is null ? SyncStatus.NotSent
        : LatestAcked ? SyncStatus.Synced
        : LastNack is { } nack && nack.Nonce == NonceSent ? SyncStatus.Error
        : SyncStatus.Stale;

    public XdsTypeStatus ToStatus(bool wildcard, int names, IReadOnlyList<KeyValuePair<string, string>> sent) =>
        new(TypeUrl, Status, VersionSent, NonceSent, SentAt, VersionAcked, AckedAt, LastNack, NackCount, wildcard, names, sent);
}
