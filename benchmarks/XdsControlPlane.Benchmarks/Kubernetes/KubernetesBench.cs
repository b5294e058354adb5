using System.Globalization;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Xds;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

internal static class KubernetesBench
{
    /// <summary>The source's defaults (as the server runs): 500 objects a page, 100 ms debounce, 1 s max delay.</summary>
    public static KubernetesSourceOptions Options { get; } = new();

    /// <summary><paramref name="defaults"/>, or the counts in <c>XDS_K8S_TENANTS</c> (comma-separated).</summary>
    public static IEnumerable<int> Tenants(int[] defaults) =>
        Environment.GetEnvironmentVariable("XDS_K8S_TENANTS") is { Length: > 0 } chosen
            ? chosen.Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture))
            : defaults;

    /// <summary>What the host's pipeline publishes through: the cache's consistency check, then the streams are woken.</summary>
    public static Func<Snapshot, IReadOnlyList<string>> Publisher(SnapshotCache cache) =>
        snapshot => cache.TrySetSnapshot(snapshot, out var problems) ? [] : problems;
}
