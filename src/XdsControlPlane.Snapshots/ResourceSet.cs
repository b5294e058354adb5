using System.Collections.Immutable;

namespace XdsControlPlane.Snapshots;

/// <summary>All resources of one type in a snapshot, by name, with a version for the whole set.</summary>
public sealed class ResourceSet
{
    private readonly UInt128 _digest;

    public ResourceSet(string typeUrl, IEnumerable<EnvoyResource> resources)
    {
        TypeUrl = typeUrl;
        var builder = ImmutableSortedDictionary.CreateBuilder<string, EnvoyResource>(StringComparer.Ordinal);
        var count = 0;
        foreach (var resource in resources)
        {
            CheckType(typeUrl, resource);
            // Add, not TryAdd (a lookup, then Add's own descent): a full compile adds 30,000 names to a set.
            // Add refuses a second resource under a name; the same resource twice it keeps once, counted below.
            try
            {
                builder.Add(resource.Name, resource);
            }
            catch (ArgumentException)
            {
                throw Duplicate(typeUrl, resource.Name);
            }
            _digest += resource.EntryDigest;
            if (++count != builder.Count)
            {
                throw Duplicate(typeUrl, resource.Name);
            }
        }
        Resources = builder.ToImmutable();
        Version = ContentHash.FormatDigest(_digest);
    }

    private ResourceSet(string typeUrl, ImmutableSortedDictionary<string, EnvoyResource> resources, UInt128 digest)
    {
        TypeUrl = typeUrl;
        Resources = resources;
        _digest = digest;
        Version = ContentHash.FormatDigest(digest);
    }

    public string TypeUrl { get; }

    /// <summary>A digest of every (name, version): equal sets have equal versions on every replica.</summary>
    public string Version { get; }

    public ImmutableSortedDictionary<string, EnvoyResource> Resources { get; }

    // Set by With(): the set this one was derived from (weakly, so snapshots do not chain in memory) and the
    // resources added or changed since. Every stream that holds exactly that set needs exactly those.
    private WeakReference<ImmutableSortedDictionary<string, EnvoyResource>>? _base;
    private IReadOnlyList<EnvoyResource> _changedSinceBase = [];
    private IReadOnlyList<string> _removedSinceBase = [];

    /// <summary>
    /// The resources added or changed since <paramref name="held"/>, when this set was derived from exactly that
    /// set (the usual case: one snapshot after the one a stream holds). O(changes) and shared by every stream;
    /// false when unknown (then compare resource by resource).
    /// </summary>
    public bool TryGetChangedSince(IReadOnlyDictionary<string, EnvoyResource> held, out IReadOnlyList<EnvoyResource> changed) =>
        TryGetChangedSince(held, out changed, out _);

    /// <summary>As above, with the names removed since <paramref name="held"/> as well.</summary>
    public bool TryGetChangedSince(IReadOnlyDictionary<string, EnvoyResource> held, out IReadOnlyList<EnvoyResource> changed,
        out IReadOnlyList<string> removed)
    {
        changed = _changedSinceBase;
        removed = _removedSinceBase;
        return _base is not null && _base.TryGetTarget(out var target) && ReferenceEquals(target, held);
    }

    public static ResourceSet Empty(string typeUrl) => new(typeUrl, []);

    /// <summary>A new set with <paramref name="upserts"/> added or replaced and <paramref name="removals"/> gone: O(changes · log n).</summary>
    public ResourceSet With(IEnumerable<EnvoyResource> upserts, IEnumerable<string> removals)
    {
        var resources = Resources;
        var digest = _digest;
        var changed = new List<EnvoyResource>();
        var removed = new List<string>();
        foreach (var name in removals)
        {
            if (resources.TryGetValue(name, out var old))
            {
                digest -= old.EntryDigest;
                resources = resources.Remove(name);
                removed.Add(name);
            }
        }
        foreach (var resource in upserts)
        {
            CheckType(TypeUrl, resource);
            if (resources.TryGetValue(resource.Name, out var old))
            {
                if (ReferenceEquals(old, resource) || old.Version == resource.Version)
                {
                    continue;
                }
                digest -= old.EntryDigest;
            }
            digest += resource.EntryDigest;
            resources = resources.SetItem(resource.Name, resource);
            changed.Add(resource);
        }
        if (ReferenceEquals(resources, Resources))
        {
            return this;
        }
        // A name removed and added back in one change is a changed resource, not a removal as well.
        removed.RemoveAll(resources.ContainsKey);
        return new ResourceSet(TypeUrl, resources, digest)
        {
            _base = new WeakReference<ImmutableSortedDictionary<string, EnvoyResource>>(Resources),
            _changedSinceBase = changed,
            _removedSinceBase = removed,
        };
    }

    private static ArgumentException Duplicate(string typeUrl, string name) =>
        new($"two {typeUrl} resources are named '{name}'", "resources");

    private static void CheckType(string typeUrl, EnvoyResource resource)
    {
        if (resource.TypeUrl != typeUrl)
        {
            throw new ArgumentException($"resource '{resource.Name}' is a {resource.TypeUrl}, not a {typeUrl}");
        }
    }
}
