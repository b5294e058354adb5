using k8s;
using k8s.Autorest;
using k8s.Models;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>The resources the nodeport-proxy watches, over KubernetesClient.</summary>
public static class ResourceApis
{
    public static IResourceApi<KkpCluster> Clusters(IKubernetes client) => new ResourceApi<KkpCluster, CustomObjectList<KkpCluster>>(
        "clusters",
        (watch, rv, timeout, cont, limit, ct) => client.CustomObjects.ListClusterCustomObjectWithHttpMessagesAsync<CustomObjectList<KkpCluster>>(
            KkpCluster.Group, KkpCluster.Version, KkpCluster.Plural,
            allowWatchBookmarks: watch ? true : null, continueParameter: cont, limit: limit, resourceVersion: rv,
            timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct),
        l => (l.Items ?? [], l.Metadata));

    /// <summary>KKP Seeds live in a namespace of the seed cluster (<c>kubermatic</c>).</summary>
    public static IResourceApi<KkpSeed> Seeds(IKubernetes client, string ns) => new ResourceApi<KkpSeed, CustomObjectList<KkpSeed>>(
        "seeds",
        (watch, rv, timeout, cont, limit, ct) => client.CustomObjects.ListNamespacedCustomObjectWithHttpMessagesAsync<CustomObjectList<KkpSeed>>(
            KkpCluster.Group, KkpCluster.Version, ns, KkpSeed.Plural,
            allowWatchBookmarks: watch ? true : null, continueParameter: cont, limit: limit, resourceVersion: rv,
            timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct),
        l => (l.Items ?? [], l.Metadata));

    /// <summary>
    /// Services, in one namespace or all. Annotations cannot be selected server-side: the informer filters on the
    /// expose annotation itself (as envoy-manager does).
    /// </summary>
    public static IResourceApi<V1Service> Services(IKubernetes client, string? ns) => new ResourceApi<V1Service, V1ServiceList>(
        "services",
        (watch, rv, timeout, cont, limit, ct) => ns is null
            ? client.CoreV1.ListServiceForAllNamespacesWithHttpMessagesAsync(
                allowWatchBookmarks: watch ? true : null, continueParameter: cont, limit: limit, resourceVersion: rv,
                timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct)
            : client.CoreV1.ListNamespacedServiceWithHttpMessagesAsync(ns,
                allowWatchBookmarks: watch ? true : null, continueParameter: cont, limit: limit, resourceVersion: rv,
                timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct),
        l => (l.Items ?? [], l.Metadata));

    /// <summary>One Service by name (field selector <c>metadata.name</c>): the nodeport-proxy's LoadBalancer Service.</summary>
    public static IResourceApi<V1Service> Service(IKubernetes client, string ns, string name) => new ResourceApi<V1Service, V1ServiceList>(
        "nodeport-proxy-service",
        (watch, rv, timeout, cont, limit, ct) => client.CoreV1.ListNamespacedServiceWithHttpMessagesAsync(ns,
            allowWatchBookmarks: watch ? true : null, continueParameter: cont, fieldSelector: $"metadata.name={name}", limit: limit,
            resourceVersion: rv, timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct),
        l => (l.Items ?? [], l.Metadata));

    /// <summary>EndpointSlices that belong to a Service (label <c>kubernetes.io/service-name</c>), in one namespace or all.</summary>
    public static IResourceApi<V1EndpointSlice> EndpointSlices(IKubernetes client, string? ns) => new ResourceApi<V1EndpointSlice, V1EndpointSliceList>(
        "endpointslices",
        (watch, rv, timeout, cont, limit, ct) => ns is null
            ? client.DiscoveryV1.ListEndpointSliceForAllNamespacesWithHttpMessagesAsync(
                allowWatchBookmarks: watch ? true : null, continueParameter: cont, labelSelector: Annotations.ServiceNameLabel, limit: limit,
                resourceVersion: rv, timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct)
            : client.DiscoveryV1.ListNamespacedEndpointSliceWithHttpMessagesAsync(ns,
                allowWatchBookmarks: watch ? true : null, continueParameter: cont, labelSelector: Annotations.ServiceNameLabel, limit: limit,
                resourceVersion: rv, timeoutSeconds: timeout, watch: watch ? true : null, cancellationToken: ct),
        l => (l.Items ?? [], l.Metadata));

    /// <summary>True when the API server said 410 Gone: the resourceVersion is too old and only a new list helps.</summary>
    public static bool IsGone(Exception e) => e switch
    {
        HttpOperationException { Response.StatusCode: System.Net.HttpStatusCode.Gone } => true,
        KubernetesException { Status: { } status } => status.Code == 410 || status.Reason is "Gone" or "Expired",
        _ => e.InnerException is { } inner && IsGone(inner),
    };

    /// <summary>One resource: the list call (watch=false) and the same call with watch=true.</summary>
    private sealed class ResourceApi<T, TList>(
        string name,
        Func<bool, string?, int?, string?, int?, CancellationToken, Task<HttpOperationResponse<TList>>> call,
        Func<TList, (IList<T> Items, V1ListMeta? Metadata)> unpack) : IResourceApi<T>
        where T : IKubernetesObject<V1ObjectMeta>
    {
        public string Name => name;

        public async Task<ListPage<T>> ListAsync(string? continueToken, int limit, CancellationToken cancellationToken)
        {
            using var response = await call(false, null, null, continueToken, limit, cancellationToken);
            var (items, metadata) = unpack(response.Body);
            return new ListPage<T>(items.ToList(), metadata?.ResourceVersion ?? "", string.IsNullOrEmpty(metadata?.ContinueProperty) ? null : metadata.ContinueProperty);
        }

        public IAsyncEnumerable<(WatchEventType Type, T Object)> WatchAsync(
            string resourceVersion, int timeoutSeconds, Action<Exception> onError, CancellationToken cancellationToken)
        {
            var response = call(true, resourceVersion, timeoutSeconds, null, null, cancellationToken);
            // The library's line decoder. It reports ERROR events and bad lines through onError only, so onError throws
            // (see ResourceInformer): a 410 Gone must become a re-list, never a silent end of the stream.
#pragma warning disable CS0618 // marked for replacement upstream; it is still the one decoder that takes an arbitrary list call
            return response.WatchAsync<T, TList>(onError, cancellationToken);
#pragma warning restore CS0618
        }
    }
}
