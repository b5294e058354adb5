using System.Collections.Immutable;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>All resources of one type in a snapshot, by name, with a version for the whole set.</summary>
public sealed class ResourceSet
{
    public ResourceSet(string typeUrl, IEnumerable<EnvoyResource> resources)
    {
        TypeUrl = typeUrl;
        var builder = ImmutableSortedDictionary.CreateBuilder<string, EnvoyResource>(StringComparer.Ordinal);
        foreach (var resource in resources)
        {
            if (resource.TypeUrl != typeUrl)
            {
                throw new ArgumentException($"resource '{resource.Name}' is a {resource.TypeUrl}, not a {typeUrl}", nameof(resources));
            }
            if (!builder.TryAdd(resource.Name, resource))
            {
                throw new ArgumentException($"two {typeUrl} resources are named '{resource.Name}'", nameof(resources));
            }
        }
        Resources = builder.ToImmutable();
        Version = ContentHash.OfVersions(Resources.Select(r => KeyValuePair.Create(r.Key, r.Value.Version)));
    }

    public string TypeUrl { get; }

    /// <summary>A hash of every (name, version): equal sets have equal versions everywhere.</summary>
    public string Version { get; }

    public ImmutableSortedDictionary<string, EnvoyResource> Resources { get; }

    public static ResourceSet Empty(string typeUrl) => new(typeUrl, []);
}
