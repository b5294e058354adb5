using System.Collections.Immutable;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>All resources of one type in a snapshot, by name, with a version for the whole set.</summary>
public sealed class ResourceSet
{
    private readonly UInt128 _digest;

    public ResourceSet(string typeUrl, IEnumerable<EnvoyResource> resources)
    {
        TypeUrl = typeUrl;
        var builder = ImmutableSortedDictionary.CreateBuilder<string, EnvoyResource>(StringComparer.Ordinal);
        foreach (var resource in resources)
        {
            CheckType(typeUrl, resource);
            if (!builder.TryAdd(resource.Name, resource))
            {
                throw new ArgumentException($"two {typeUrl} resources are named '{resource.Name}'", nameof(resources));
            }
            _digest += resource.EntryDigest;
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

    public static ResourceSet Empty(string typeUrl) => new(typeUrl, []);

    /// <summary>A new set with <paramref name="upserts"/> added or replaced and <paramref name="removals"/> gone: O(changes · log n).</summary>
    public ResourceSet With(IEnumerable<EnvoyResource> upserts, IEnumerable<string> removals)
    {
        var resources = Resources;
        var digest = _digest;
        foreach (var name in removals)
        {
            if (resources.TryGetValue(name, out var old))
            {
                digest -= old.EntryDigest;
                resources = resources.Remove(name);
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
        }
        return ReferenceEquals(resources, Resources) ? this : new ResourceSet(TypeUrl, resources, digest);
    }

    private static void CheckType(string typeUrl, EnvoyResource resource)
    {
        if (resource.TypeUrl != typeUrl)
        {
            throw new ArgumentException($"resource '{resource.Name}' is a {resource.TypeUrl}, not a {typeUrl}");
        }
    }
}
