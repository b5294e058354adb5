namespace XdsControlPlane.Snapshots;

/// <summary>
/// The parts of a resource assembled from parts (the SNI listener: one filter chain per tenant port), as each part's
/// references, and, when the resource was derived from an earlier version of itself, the parts added and removed
/// since: the consistency check then looks at those alone, not at 12,000 chains.
/// </summary>
public sealed class ResourceParts
{
    private readonly Func<IReadOnlyList<ResourcePart>> _all;
    private IReadOnlyList<ResourcePart>? _read;
    private WeakReference<EnvoyResource>? _basis; // weak: versions of a listener must not chain in memory

    /// <param name="all">Every part's references, read when first needed.</param>
    public ResourceParts(Func<IReadOnlyList<ResourcePart>> all) => _all = all;

    /// <summary>Every part.</summary>
    public IReadOnlyList<ResourcePart> All => _read ??= _all();

    /// <summary>The references of the parts added since <see cref="DerivedFrom"/>'s basis, and of those removed.</summary>
    public IReadOnlyList<ResourcePart> Added { get; private set; } = [];

    /// <inheritdoc cref="Added"/>
    public IReadOnlyList<ResourcePart> Removed { get; private set; } = [];

    /// <summary>Says this resource is <paramref name="basis"/> with <paramref name="added"/> parts added and
    /// <paramref name="removed"/> removed (a part changed is one removed and one added). Call once, before publishing.</summary>
    public ResourceParts DerivedFrom(EnvoyResource basis, IReadOnlyList<ResourcePart> added, IReadOnlyList<ResourcePart> removed)
    {
        _basis = new WeakReference<EnvoyResource>(basis);
        Added = added;
        Removed = removed;
        return this;
    }

    /// <summary>True when this resource was derived from exactly <paramref name="held"/>: then <see cref="Added"/> and
    /// <see cref="Removed"/> are all that differs.</summary>
    public bool IsDerivedFrom(EnvoyResource held) => _basis is not null && _basis.TryGetTarget(out var basis) && ReferenceEquals(basis, held);
}
