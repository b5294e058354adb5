namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>What one informer has done, for a debug view and metrics. A copy: it does not change after it is taken.</summary>
/// <param name="WatchRestarts">Watches that ended abnormally (dropped connection, error, watchdog) and were restarted.</param>
/// <param name="WatchdogRestarts">Of those, the ones the watchdog ended because nothing arrived in time.</param>
/// <param name="Gone">410 Gone answers (ERROR event or HTTP status), each followed by a re-list.</param>
/// <param name="Relists">Lists after the first one.</param>
/// <param name="SynthesizedDeletes">Objects found missing by a re-list: deleted while the watch was not looking.</param>
public sealed record InformerStatus(
    string Resource,
    bool HasSynced,
    int ObjectCount,
    string ResourceVersion,
    long Lists,
    long Relists,
    long WatchesStarted,
    long WatchRestarts,
    long WatchdogRestarts,
    long Gone,
    long Events,
    long Bookmarks,
    long SynthesizedDeletes,
    DateTimeOffset? LastSyncTime,
    DateTimeOffset? LastEventTime,
    string? LastError);
