namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>The delay before retrying a failed list or watch.</summary>
public static class WatchBackoff
{
    /// <summary>
    /// <paramref name="initial"/> doubled per consecutive failure, capped at <paramref name="max"/>, with "equal jitter":
    /// between half and all of that, by <paramref name="random"/> in [0, 1). Retries of many replicas spread out,
    /// and none comes back sooner than half the backoff.
    /// </summary>
    public static TimeSpan Delay(int failures, TimeSpan initial, TimeSpan max, double random)
    {
        var exponent = Math.Min(Math.Max(failures - 1, 0), 30);
        var ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds((ceiling / 2) + (Math.Clamp(random, 0, 1) * ceiling / 2));
    }
}
