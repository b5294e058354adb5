using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds.Planning;

/// <summary>
/// Make before break (XDS-PROTOCOL.md 13), for state of the world and delta alike: a cluster gone from the snapshot
/// stays with the client while a listener or route configuration the client may still hold (sent, or replaced but
/// not yet ACKed) uses it. Over ADS clusters go first in every push, so the listeners that stop using a cluster are
/// sent after it; the cluster goes in the first push after they are ACKed.
/// </summary>
internal static class MakeBeforeBreak
{
    private static readonly string[] HolderTypes = [TypeUrls.Listener, TypeUrls.Route];

    /// <summary>
    /// The clusters used by what the client may hold of the stream's listeners and routes (repeats included). Walks
    /// every held listener and route: callers ask only when a cluster the client holds is no longer served.
    /// </summary>
    public static IEnumerable<string> ClustersInUse(IReadOnlyDictionary<string, Subscription> stream)
    {
        foreach (var holderType in HolderTypes)
        {
            if (!stream.TryGetValue(holderType, out var holder))
            {
                continue;
            }
            foreach (var held in holder.HeldOrUnacknowledged())
            {
                foreach (var cluster in ResourceReferences.Of(held).Clusters)
                {
                    yield return cluster;
                }
            }
        }
    }

    /// <summary>
    /// SotW CDS: <paramref name="desired"/> plus the clusters the client holds that are still in use. Returns
    /// <paramref name="desired"/> itself when nothing is retained.
    /// </summary>
    public static IReadOnlyDictionary<string, EnvoyResource> WithRetained(Subscription clusters, IReadOnlyDictionary<string, EnvoyResource> desired,
        IReadOnlyDictionary<string, Subscription> stream)
    {
        var held = clusters.Held;
        if (held.Count == 0 || ReferenceEquals(held, desired))
        {
            return desired;
        }
        // A subset made for this push is ours to add to; the snapshot's shared set is copied, on the first retained cluster only.
        SortedDictionary<string, EnvoyResource>? withRetained = null;
        foreach (var name in ClustersInUse(stream))
        {
            if (!desired.ContainsKey(name) && held.TryGetValue(name, out var old))
            {
                withRetained ??= desired as SortedDictionary<string, EnvoyResource> ?? Copy(desired);
                withRetained[old.Name] = old;
            }
        }
        return withRetained ?? desired;

        static SortedDictionary<string, EnvoyResource> Copy(IReadOnlyDictionary<string, EnvoyResource> shared)
        {
            var copy = new SortedDictionary<string, EnvoyResource>(StringComparer.Ordinal);
            foreach (var (name, resource) in shared)
            {
                copy.Add(name, resource);
            }
            return copy;
        }
    }

    /// <summary>Delta CDS: answers "is this cluster still in use?", gathering the clusters in use on the first question only.</summary>
    public sealed class InUse(IReadOnlyDictionary<string, Subscription> stream)
    {
        private HashSet<string>? _clusters;

        public bool Contains(string cluster) =>
            (_clusters ??= new HashSet<string>(ClustersInUse(stream), StringComparer.Ordinal)).Contains(cluster);
    }
}
