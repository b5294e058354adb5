namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>The part of an informer the source needs without knowing its object type.</summary>
public interface IInformer
{
    string Name { get; }

    bool HasSynced { get; }

    InformerStatus Status { get; }

    /// <summary>The keys of the objects added, modified or removed since the last call.</summary>
    IReadOnlyCollection<string> TakeChangedKeys();

    Task RunAsync(CancellationToken cancellationToken);
}
