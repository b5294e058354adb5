using k8s;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// The two calls an informer makes for one kind of object. Implemented over <see cref="IKubernetes"/> by
/// <see cref="ResourceApis"/>; tests may substitute their own.
/// </summary>
public interface IResourceApi<T>
    where T : IKubernetesObject<V1ObjectMeta>
{
    /// <summary>A short name for logs and counters ("clusters", "services", ...).</summary>
    string Name { get; }

    Task<ListPage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Watches from <paramref name="resourceVersion"/> with bookmarks. <paramref name="onError"/> receives
    /// ERROR events (as <see cref="KubernetesException"/>) and undecodable lines; it must throw to end the watch.
    /// </summary>
    IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
        string resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken);
}
