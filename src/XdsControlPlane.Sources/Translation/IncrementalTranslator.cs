using k8s.Models;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Sources.Translation;

/// <summary>
/// <see cref="InventoryTranslator.Translate"/> kept current by the objects that changed: each tenant (namespace
/// <c>cluster-&lt;id&gt;</c>: its Cluster, Services and EndpointSlices) is translated again only when one of its objects
/// changed, and the seed settings only when a Seed or a Service in the nodeport-proxy's namespace changed. The result
/// is that of the full translation of the same objects, diagnostics in the same order (a property test checks it after
/// every step of random change sequences), and a tenant not translated again, or translated to an equal value, is the
/// same <see cref="Tenant"/> instance as before, so the pipeline can recognise it by reference.
/// </summary>
/// <remarks>
/// No translation rule spans tenants: a Service's resource names carry its namespace, so name collisions are resolved
/// within one tenant (<see cref="InventoryTranslator.ResolveNameConflicts"/>); SNI hostname and node-port conflicts
/// between tenants are the compiler's claims, after translation. Tenants do not read the seed settings either, so a
/// Seed change costs only the seed part. Not thread-safe: one source drives it.
/// </remarks>
public sealed class IncrementalTranslator
{
    private const string SeedKind = "Seed";
    private const string ClusterKind = "Cluster";
    private const string ServiceKind = "Service";
    private const string SliceKind = "EndpointSlice";

    private readonly TranslationOptions _options;

    // Every object by key, and the named ones indexed where a translation looks for them. The inner dictionaries are
    // ordered by key: the inventory's order, which decides between duplicates as the full translation does.
    private readonly Dictionary<string, object> _objects = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, KkpSeed> _seeds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedDictionary<string, KkpCluster>> _clustersByName = new(StringComparer.Ordinal);
    private readonly Dictionary<NamespaceKey, SortedDictionary<string, V1Service>> _servicesByNamespace = [];
    private readonly Dictionary<string, SortedDictionary<string, V1EndpointSlice>> _slicesByNamespace = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _unnamed = new(StringComparer.Ordinal); // key → kind
    private readonly int[] _unnamedCounts = new int[4]; // Seed, Cluster, EndpointSlice, Service: the full translation's order

    // What changed since the last Translate.
    private readonly HashSet<NamespaceKey> _dirty = [];
    private bool _seedDirty = true;

    // The last translation, per part.
    private SeedSettings? _seed;
    private List<Diagnostic> _seedDiagnostics = [];
    private readonly SortedDictionary<NamespaceKey, List<Diagnostic>> _serviceDiagnostics = [];
    private readonly SortedDictionary<string, List<Diagnostic>> _tenantDiagnostics = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _failed = new(StringComparer.Ordinal);
    private readonly List<Tenant> _tenants = []; // sorted by id
    private ValueList<Tenant>? _tenantList;
    private readonly HashSet<string> _changedTenants = new(StringComparer.Ordinal);

    public IncrementalTranslator(TranslationOptions? options = null)
    {
        _options = options ?? new TranslationOptions();
    }

    public TranslationOptions Options => _options;

    /// <summary>How many objects are held.</summary>
    public int Count => _objects.Count;

    /// <summary>
    /// The tenants whose translation changed in the last <see cref="Translate"/> (a new <see cref="Tenant"/> instance,
    /// one that appeared, disappeared, or failed or recovered).
    /// </summary>
    public IReadOnlyCollection<string> ChangedTenants => _changedTenants;

    /// <summary>Records one object change; nothing is translated until <see cref="Translate"/>.</summary>
    /// <exception cref="ArgumentException">The object is not a Seed, Cluster, Service or EndpointSlice.</exception>
    public void Apply(ObjectChange change)
    {
        if (change.Object is not (null or KkpSeed or KkpCluster or V1Service or V1EndpointSlice))
        {
            throw new ArgumentException($"{change.Key}: a {change.Object.GetType().Name} is not translated", nameof(change));
        }
        if (_objects.Remove(change.Key, out var old))
        {
            Unindex(change.Key, old);
        }
        if (change.Object is { } added)
        {
            _objects[change.Key] = added;
            Index(change.Key, added);
        }
    }

    public void Apply(IEnumerable<ObjectChange> changes)
    {
        foreach (var change in changes)
        {
            Apply(change);
        }
    }

    /// <summary>The translation of every object held, re-translating only what changed since the last call.</summary>
    public TranslationResult Translate()
    {
        _changedTenants.Clear();
        if (_seedDirty)
        {
            _seedDirty = false;
            var diagnostics = new List<Diagnostic>();
            _seed = InventoryTranslator.TranslateSeed([.. _seeds.Values], NodePortProxyCandidates(), _options, diagnostics);
            _seedDiagnostics = diagnostics;
        }
        foreach (var ns in _dirty)
        {
            TranslateNamespace(ns);
        }
        _dirty.Clear();

        var all = new List<Diagnostic>();
        AddMissingNames(all, 0, SeedKind);
        all.AddRange(_seedDiagnostics);
        AddMissingNames(all, 1, ClusterKind);
        AddMissingNames(all, 2, SliceKind);
        AddMissingNames(all, 3, ServiceKind);
        foreach (var list in _serviceDiagnostics.Values)
        {
            all.AddRange(list);
        }
        foreach (var list in _tenantDiagnostics.Values)
        {
            all.AddRange(list);
        }
        _tenantList ??= _tenants.ToValueList();
        return new TranslationResult(_seed, _tenantList, new SortedSet<string>(_failed, StringComparer.Ordinal), all);
    }

    private void AddMissingNames(List<Diagnostic> all, int index, string kind)
    {
        for (var i = 0; i < _unnamedCounts[index]; i++)
        {
            all.Add(InventoryTranslator.MissingName(kind));
        }
    }

    /// <summary>
    /// The Services the seed part may read the nodeport-proxy's from: those named like it in its namespace, in
    /// inventory order (it takes the first). A Service without a namespace counts as <c>default</c>, as there.
    /// </summary>
    private List<V1Service> NodePortProxyCandidates()
    {
        var candidates = new List<KeyValuePair<string, V1Service>>();
        NamespaceKey[] keys = _options.NodePortProxyNamespace == "default"
            ? [new NamespaceKey(null), new NamespaceKey("default")]
            : [new NamespaceKey(_options.NodePortProxyNamespace)];
        foreach (var ns in keys)
        {
            if (_servicesByNamespace.TryGetValue(ns, out var services))
            {
                candidates.AddRange(services.Where(s => s.Value.Metadata.Name == _options.NodePortProxyServiceName));
            }
        }
        return [.. candidates.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Value)];
    }

    private void Index(string key, object obj)
    {
        switch (obj)
        {
            case KkpSeed seed when HasName(seed.Metadata):
                _seeds[key] = seed;
                _seedDirty = true;
                break;
            case KkpCluster cluster when HasName(cluster.Metadata):
                Bucket(_clustersByName, cluster.Metadata.Name)[key] = cluster;
                _dirty.Add(new NamespaceKey(InventoryTranslator.TenantNamespacePrefix + cluster.Metadata.Name));
                break;
            case V1Service service when HasName(service.Metadata):
                var ns = new NamespaceKey(service.Metadata.NamespaceProperty);
                if (!_servicesByNamespace.TryGetValue(ns, out var services))
                {
                    _servicesByNamespace[ns] = services = new SortedDictionary<string, V1Service>(StringComparer.Ordinal);
                }
                services[key] = service;
                ServiceChanged(ns);
                break;
            case V1EndpointSlice slice when HasName(slice.Metadata):
                Bucket(_slicesByNamespace, slice.Metadata.NamespaceProperty ?? "")[key] = slice;
                _dirty.Add(new NamespaceKey(slice.Metadata.NamespaceProperty ?? ""));
                break;
            default:
                var kind = KindOf(obj);
                _unnamed[key] = kind;
                _unnamedCounts[KindIndex(kind)]++;
                break;
        }
    }

    private void Unindex(string key, object obj)
    {
        if (_unnamed.Remove(key, out var kind))
        {
            _unnamedCounts[KindIndex(kind)]--;
            return;
        }
        switch (obj)
        {
            case KkpSeed:
                _seeds.Remove(key);
                _seedDirty = true;
                break;
            case KkpCluster cluster:
                RemoveFrom(_clustersByName, cluster.Metadata.Name, key);
                _dirty.Add(new NamespaceKey(InventoryTranslator.TenantNamespacePrefix + cluster.Metadata.Name));
                break;
            case V1Service service:
                var ns = new NamespaceKey(service.Metadata.NamespaceProperty);
                if (_servicesByNamespace.TryGetValue(ns, out var services) && services.Remove(key) && services.Count == 0)
                {
                    _servicesByNamespace.Remove(ns);
                }
                ServiceChanged(ns);
                break;
            case V1EndpointSlice slice:
                RemoveFrom(_slicesByNamespace, slice.Metadata.NamespaceProperty ?? "", key);
                _dirty.Add(new NamespaceKey(slice.Metadata.NamespaceProperty ?? ""));
                break;
        }
    }

    private void ServiceChanged(NamespaceKey ns)
    {
        _dirty.Add(ns);
        if ((ns.Raw ?? "default") == _options.NodePortProxyNamespace)
        {
            _seedDirty = true;
        }
    }

    /// <summary>
    /// Translates one namespace's Services (diagnostics kept per namespace, in the full translation's order) and, for a
    /// tenant namespace, the tenant. A slice's namespace key may stand for a namespace without Services: then only the
    /// tenant (if any) is looked at again.
    /// </summary>
    private void TranslateNamespace(NamespaceKey key)
    {
        var ns = key.Raw ?? "default";
        var isTenant = key.Raw is not null && InventoryTranslator.TryTenantIdOf(key.Raw, out _);
        var serviceDiagnostics = new List<Diagnostic>();
        var exposed = new List<(ExposedService Service, V1Service Source)>();
        var failed = false;
        string id = isTenant ? key.Raw![InventoryTranslator.TenantNamespacePrefix.Length..] : "";
        if (_servicesByNamespace.TryGetValue(key, out var services) && (_options.Namespace is null || ns == _options.Namespace))
        {
            Dictionary<string, List<V1EndpointSlice>>? slicesByService = null;
            foreach (var service in services.Values.OrderBy(s => s.Metadata.Name, StringComparer.Ordinal))
            {
                if (!isTenant)
                {
                    if (service.Metadata.Annotations?.ContainsKey(_options.ExposeAnnotationKey) == true)
                    {
                        serviceDiagnostics.Add(InventoryTranslator.NotATenantNamespace(service, ns, _options));
                    }
                    continue;
                }
                slicesByService ??= InventoryTranslator.SlicesByService(
                    _slicesByNamespace.TryGetValue(key.Raw!, out var slices) ? slices.Values : []);
                var outcome = InventoryTranslator.TranslateService(service, slicesByService, _options, serviceDiagnostics, id);
                if (outcome is null)
                {
                    continue;
                }
                if (outcome.Value.Failed)
                {
                    failed = true;
                    continue;
                }
                exposed.Add((outcome.Value.Service!, service));
            }
        }
        Keep(_serviceDiagnostics, key, serviceDiagnostics);
        if (!isTenant)
        {
            return;
        }

        var tenantDiagnostics = new List<Diagnostic>();
        Tenant? tenant = null;
        var cluster = _clustersByName.TryGetValue(id, out var clusters) ? clusters.Values.Last() : null; // the last of a name wins
        if (cluster is not null || exposed.Count > 0)
        {
            if (failed)
            {
                // failed already: a Service of the tenant is invalid
            }
            else if (cluster is null)
            {
                failed = true;
                tenantDiagnostics.Add(InventoryTranslator.ClusterMissing(id, exposed.Count));
            }
            else
            {
                var resolved = InventoryTranslator.ResolveNameConflicts(exposed, tenantDiagnostics, id);
                tenant = InventoryTranslator.TranslateTenant(id, cluster, resolved, tenantDiagnostics);
                if (tenant is null)
                {
                    failed = true;
                }
                else if (tenant.Services.Count == 0 && tenant.AllowedRanges.Count == 0)
                {
                    tenant = null;
                }
            }
        }
        Keep(_tenantDiagnostics, id, tenantDiagnostics);
        var wasFailed = failed ? !_failed.Add(id) : _failed.Remove(id);
        if (wasFailed != failed)
        {
            _changedTenants.Add(id);
        }
        SetTenant(id, tenant);
    }

    /// <summary>Puts the tenant's translation in the sorted list; an equal value keeps the instance already there.</summary>
    private void SetTenant(string id, Tenant? tenant)
    {
        var index = _tenants.BinarySearch(new Tenant { Id = id }, TenantById.Instance);
        if (index >= 0)
        {
            if (tenant is null)
            {
                _tenants.RemoveAt(index);
            }
            else if (tenant.Equals(_tenants[index]))
            {
                return;
            }
            else
            {
                _tenants[index] = tenant;
            }
        }
        else if (tenant is null)
        {
            return;
        }
        else
        {
            _tenants.Insert(~index, tenant);
        }
        _tenantList = null;
        _changedTenants.Add(id);
    }

    private static void Keep<TKey>(SortedDictionary<TKey, List<Diagnostic>> kept, TKey key, List<Diagnostic> diagnostics)
        where TKey : notnull
    {
        if (diagnostics.Count == 0)
        {
            kept.Remove(key);
        }
        else
        {
            kept[key] = diagnostics;
        }
    }

    private static SortedDictionary<string, T> Bucket<T>(Dictionary<string, SortedDictionary<string, T>> index, string name)
    {
        if (!index.TryGetValue(name, out var bucket))
        {
            index[name] = bucket = new SortedDictionary<string, T>(StringComparer.Ordinal);
        }
        return bucket;
    }

    private static void RemoveFrom<T>(Dictionary<string, SortedDictionary<string, T>> index, string name, string key)
    {
        if (index.TryGetValue(name, out var bucket) && bucket.Remove(key) && bucket.Count == 0)
        {
            index.Remove(name);
        }
    }

    private static bool HasName(V1ObjectMeta? metadata) => !string.IsNullOrEmpty(metadata?.Name);

    private static string KindOf(object obj) => obj switch
    {
        KkpSeed => SeedKind,
        KkpCluster => ClusterKind,
        V1EndpointSlice => SliceKind,
        _ => ServiceKind,
    };

    private static int KindIndex(string kind) => kind switch
    {
        SeedKind => 0,
        ClusterKind => 1,
        SliceKind => 2,
        _ => 3,
    };

    private sealed class TenantById : IComparer<Tenant>
    {
        public static readonly TenantById Instance = new();

        public int Compare(Tenant? x, Tenant? y) => string.CompareOrdinal(x!.Id, y!.Id);
    }

    /// <summary>
    /// A Service's namespace as written (null when absent), ordered as the full translation orders Services: absent
    /// first, then ordinally. Absent and "" are different namespaces there (absent reads as <c>default</c>).
    /// </summary>
    private readonly record struct NamespaceKey(string? Raw) : IComparable<NamespaceKey>
    {
        public int CompareTo(NamespaceKey other) => StringComparer.Ordinal.Compare(Raw, other.Raw);
    }
}
