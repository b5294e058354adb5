using System.Collections.Immutable;

namespace XdsControlPlane.Snapshots;

/// <summary>
/// An immutable, consistent set of Envoy resources of every served type. Built by the compiler,
/// checked by <see cref="SnapshotConsistency"/> before any node sees it, then shared by all streams.
/// </summary>
public sealed class Snapshot
{
    public Snapshot(IEnumerable<ResourceSet> sets)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, ResourceSet>(StringComparer.Ordinal);
        foreach (var typeUrl in TypeUrls.PushOrder)
        {
            builder[typeUrl] = ResourceSet.Empty(typeUrl);
        }
        foreach (var set in sets)
        {
            builder[set.TypeUrl] = set;
        }
        ByType = builder.ToImmutable();
        Version = ContentHash.OfParts(TypeUrls.PushOrder.Select(t => ByType[t].Version));
    }

    /// <summary>A hash of every type's version.</summary>
    public string Version { get; }

    public ImmutableDictionary<string, ResourceSet> ByType { get; }

    public ResourceSet Get(string typeUrl) => ByType.TryGetValue(typeUrl, out var set) ? set : ResourceSet.Empty(typeUrl);

    public static Snapshot Empty { get; } = new([]);
}
