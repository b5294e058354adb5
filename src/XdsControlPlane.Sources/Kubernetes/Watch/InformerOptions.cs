namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>The timing of one informer's list and watch calls.</summary>
public sealed record InformerOptions
{
    public TimeSpan WatchTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan WatchdogTimeout { get; init; } = TimeSpan.FromMinutes(2);

    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    public int ListPageSize { get; init; } = 500;
}
