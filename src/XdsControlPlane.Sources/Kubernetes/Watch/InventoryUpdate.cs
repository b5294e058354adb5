using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// One publication of the Kubernetes source: what changed since the previous one handed to the same consumer, and the
/// whole inventory, put together only if asked for (O(all objects)).
/// </summary>
/// <param name="Changes">
/// The objects added, modified or removed (null object) since the previous update, keyed <c>&lt;Kind&gt;/&lt;namespace&gt;/&lt;name&gt;</c>
/// (<c>Cluster/&lt;name&gt;</c>); when <paramref name="Complete"/>, every object instead (the first update, and the one after a
/// consumer failed: a consumer that keeps state starts it again from these).
/// </param>
public sealed class InventoryUpdate(IReadOnlyList<ObjectChange> changes, bool complete, Func<SeedInventory> inventory)
{
    private readonly Lazy<SeedInventory> _inventory = new(inventory);

    public IReadOnlyList<ObjectChange> Changes { get; } = changes;

    public bool Complete { get; } = complete;

    /// <summary>The stores as one inventory, as <see cref="KubernetesSource.Current"/>; read when first asked for.</summary>
    public SeedInventory Inventory => _inventory.Value;
}
