using Microsoft.Extensions.Logging;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>Every log line of the Kubernetes source: informers, the source, the event recorder. Tests match event names.</summary>
internal static partial class KubernetesSourceLog
{
    [LoggerMessage(EventId = 500, EventName = "InformerListed", Level = LogLevel.Information,
        Message = "Listed {Resource}: {Count} objects at resourceVersion {ResourceVersion} ({Added} added, {Modified} modified, {Deleted} deleted)")]
    public static partial void Listed(ILogger logger, string resource, int count, string resourceVersion, int added, int modified, int deleted);

    [LoggerMessage(EventId = 501, EventName = "WatchStarted", Level = LogLevel.Debug,
        Message = "Watching {Resource} from resourceVersion {ResourceVersion} (timeoutSeconds {TimeoutSeconds})")]
    public static partial void WatchStarted(ILogger logger, string resource, string resourceVersion, int timeoutSeconds);

    [LoggerMessage(EventId = 502, EventName = "WatchClosed", Level = LogLevel.Debug,
        Message = "Watch of {Resource} closed by the server after {Events} events; resuming from {ResourceVersion}")]
    public static partial void WatchClosed(ILogger logger, string resource, int events, string resourceVersion);

    [LoggerMessage(EventId = 503, EventName = "WatchGone", Level = LogLevel.Warning,
        Message = "Watch of {Resource} from resourceVersion {ResourceVersion} is too old (410 Gone); re-listing")]
    public static partial void WatchGone(ILogger logger, string resource, string resourceVersion);

    // Expected failures (API server away, a watch cut) say what happened in one line at Warning; the exception with its
    // stack goes to FailureDetail at Debug: a 20 s outage once wrote 131 KB of stack traces.
    [LoggerMessage(EventId = 504, EventName = "WatchFailed", Level = LogLevel.Warning,
        Message = "Watch of {Resource} failed: {Reason}; retrying from resourceVersion {ResourceVersion} in {Delay}")]
    public static partial void WatchFailed(ILogger logger, string resource, string reason, string resourceVersion, TimeSpan delay);

    [LoggerMessage(EventId = 505, EventName = "WatchdogFired", Level = LogLevel.Warning,
        Message = "Watch of {Resource} delivered nothing for {Timeout}; presumed hung, restarting from resourceVersion {ResourceVersion}")]
    public static partial void WatchdogFired(ILogger logger, string resource, TimeSpan timeout, string resourceVersion);

    [LoggerMessage(EventId = 506, EventName = "ListFailed", Level = LogLevel.Warning,
        Message = "Listing {Resource} failed: {Reason}; retrying in {Delay}")]
    public static partial void ListFailed(ILogger logger, string resource, string reason, TimeSpan delay);

    [LoggerMessage(EventId = 507, EventName = "InformersSynced", Level = LogLevel.Information,
        Message = "All informers synced; publishing inventories from now on")]
    public static partial void InformersSynced(ILogger logger);

    [LoggerMessage(EventId = 508, EventName = "InventoryPublished", Level = LogLevel.Debug,
        Message = "Published inventory #{Sequence}: {Seeds} seeds, {Clusters} clusters, {Services} services, {Slices} endpoint slices")]
    public static partial void InventoryPublished(ILogger logger, long sequence, int seeds, int clusters, int services, int slices);

    [LoggerMessage(EventId = 509, EventName = "InventoryConsumerFailed", Level = LogLevel.Error,
        Message = "The inventory consumer failed; the next change publishes again")]
    public static partial void ConsumerFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 510, EventName = "ClusterEventRecorded", Level = LogLevel.Debug,
        Message = "Event {Reason} for Cluster {Cluster}: {Action} (count {Count})")]
    public static partial void EventRecorded(ILogger logger, string reason, string cluster, string action, int count);

    [LoggerMessage(EventId = 511, EventName = "ClusterEventFailed", Level = LogLevel.Warning,
        Message = "Could not record event {Reason} for Cluster {Cluster}")]
    public static partial void EventFailed(ILogger logger, Exception exception, string reason, string cluster);

    [LoggerMessage(EventId = 512, EventName = "ClusterEventSkipped", Level = LogLevel.Debug,
        Message = "Diagnostic {Reason} for tenant {Tenant} has no Cluster object to attach an event to")]
    public static partial void EventSkipped(ILogger logger, string reason, string tenant);

    [LoggerMessage(EventId = 513, EventName = "WatchEventUndecodable", Level = LogLevel.Warning,
        Message = "Watch of {Resource} sent an event that cannot be decoded ({Reason}); restarting the watch")]
    public static partial void Undecodable(ILogger logger, string resource, string reason);

    [LoggerMessage(EventId = 514, EventName = "FailureDetail", Level = LogLevel.Debug,
        Message = "{Resource}: the failure above in full")]
    public static partial void FailureDetail(ILogger logger, Exception exception, string resource);

    /// <summary>
    /// An expected failure in one short line: the status the API server answered (HTTP or a watch ERROR event), or the
    /// message of the exception and of the one it wraps (a refused connection is an HttpRequestException around a
    /// SocketException). Also the informer's LastError on /debug/source.
    /// </summary>
    public static string Reason(Exception? exception)
    {
        if (exception is null)
        {
            return "unknown error";
        }
        var text = exception switch
        {
            k8s.KubernetesException { Status: { } status } => $"watch ERROR {status.Code} {status.Reason}: {status.Message}",
            k8s.Autorest.HttpOperationException { Response: { } response } =>
                $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}: {response.Content}",
            { InnerException: { } inner } when inner.Message != exception.Message =>
                $"{exception.GetType().Name}: {exception.Message.TrimEnd('.')}: {inner.Message}",
            _ => $"{exception.GetType().Name}: {exception.Message}",
        };
        text = string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
        return text.Length <= 300 ? text : text[..300] + "…";
    }
}
