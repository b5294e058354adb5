namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>What the Kubernetes source has done, for a debug view and metrics.</summary>
/// <param name="Synced">Every informer has completed its first list: inventories are being published.</param>
/// <param name="InventoriesPublished">Inventories handed to the consumer.</param>
/// <param name="Changes">Store changes seen (each event or re-list that changed something); many become one inventory.</param>
public sealed record KubernetesSourceStatus(
    bool Synced,
    long InventoriesPublished,
    long Changes,
    DateTimeOffset? LastPublishTime,
    IReadOnlyList<InformerStatus> Informers);
