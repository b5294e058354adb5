using System.Globalization;
using System.Text.Json;
using k8s.Models;
using XdsControlPlane.Cidr;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Kubernetes;

namespace XdsControlPlane.Sources.Translation;

/// <summary>
/// Kubernetes objects → model. Pure: the same inventory always gives the same result, and the folder
/// source and the API-server source share it, so they cannot disagree.
/// </summary>
public static class InventoryTranslator
{
    internal const string TenantNamespacePrefix = "cluster-";

    public static TranslationResult Translate(SeedInventory inventory, TranslationOptions? options = null)
    {
        options ??= new TranslationOptions();
        var diagnostics = new List<Diagnostic>();
        var failed = new SortedSet<string>(StringComparer.Ordinal);
        var seed = TranslateSeed(Named(inventory.Seeds, s => s.Metadata, "Seed", diagnostics), inventory.Services, options, diagnostics);

        var clustersById = new SortedDictionary<string, KkpCluster>(StringComparer.Ordinal);
        foreach (var cluster in Named(inventory.Clusters, c => c.Metadata, "Cluster", diagnostics))
        {
            clustersById[cluster.Metadata.Name] = cluster;
        }

        var slicesByService = SlicesByService(Named(inventory.EndpointSlices, s => s.Metadata, "EndpointSlice", diagnostics));

        var servicesByTenant = new SortedDictionary<string, List<(ExposedService Service, V1Service Source)>>(StringComparer.Ordinal);
        foreach (var service in Named(inventory.Services, s => s.Metadata, "Service", diagnostics).OrderBy(s => s.Metadata.NamespaceProperty, StringComparer.Ordinal).ThenBy(s => s.Metadata.Name, StringComparer.Ordinal))
        {
            var ns = service.Metadata.NamespaceProperty ?? "default";
            if (options.Namespace is not null && ns != options.Namespace)
            {
                continue;
            }
            if (!TryTenantIdOf(ns, out var tenantId))
            {
                if (service.Metadata.Annotations?.ContainsKey(options.ExposeAnnotationKey) == true)
                {
                    // envoy-manager exposes an annotated Service in any namespace it watches; here a tenant is a KKP
                    // user cluster, whose allowlist is on its Cluster object. Outside cluster-<id> there is no list to
                    // apply, and KKP puts nothing there that the shared proxy exposes: not served, said once per Service.
                    diagnostics.Add(NotATenantNamespace(service, ns, options));
                }
                continue;
            }
            var exposed = TranslateService(service, slicesByService, options, diagnostics, tenantId);
            if (exposed is null)
            {
                continue;
            }
            if (exposed.Value.Failed)
            {
                failed.Add(tenantId);
                continue;
            }
            if (!servicesByTenant.TryGetValue(tenantId, out var list))
            {
                servicesByTenant[tenantId] = list = [];
            }
            list.Add((exposed.Value.Service!, service));
        }

        var tenants = new List<Tenant>();
        foreach (var id in clustersById.Keys.Union(servicesByTenant.Keys).Order(StringComparer.Ordinal))
        {
            servicesByTenant.TryGetValue(id, out var services);
            clustersById.TryGetValue(id, out var cluster);
            if (failed.Contains(id))
            {
                continue;
            }
            if (cluster is null)
            {
                // Services without their Cluster: a cluster being deleted (the namespace goes after the Cluster's
                // finalizers ran), or the wrong object deleted. The allowlist is unknown, so the tenant must not be
                // served open: it is failed, and the pipeline keeps its last good policy or, with none, serves nothing.
                failed.Add(id);
                diagnostics.Add(ClusterMissing(id, services!.Count));
                continue;
            }
            var tenant = TranslateTenant(id, cluster, ResolveNameConflicts(services ?? [], diagnostics, id), diagnostics);
            if (tenant is null)
            {
                failed.Add(id);
            }
            else if (tenant.Services.Count > 0 || tenant.AllowedRanges.Count > 0)
            {
                tenants.Add(tenant);
            }
        }
        return new TranslationResult(seed, tenants.ToValueList(), failed, diagnostics);
    }

    /// <summary>
    /// The objects that have a name: the API server never sends one without, but a folder manifest may lack
    /// <c>metadata</c>, and every later step keys on the name. The others are reported and skipped.
    /// </summary>
    private static List<T> Named<T>(IReadOnlyList<T> objects, Func<T, V1ObjectMeta?> metadata, string kind, List<Diagnostic> diagnostics)
    {
        var named = new List<T>(objects.Count);
        foreach (var obj in objects)
        {
            if (string.IsNullOrEmpty(metadata(obj)?.Name))
            {
                diagnostics.Add(MissingName(kind));
                continue;
            }
            named.Add(obj);
        }
        return named;
    }

    internal static Diagnostic MissingName(string kind) => Error("MissingName", kind, "metadata.name", $"a {kind} without metadata.name is ignored");

    /// <summary>
    /// The exposed Services of one namespace, grouped by Service: the slices of each, ordered by name. Keyed as the
    /// Services look them up (<c>namespace/service</c>).
    /// </summary>
    internal static Dictionary<string, List<V1EndpointSlice>> SlicesByService(IEnumerable<V1EndpointSlice> named) =>
        named
            .Where(s => s.Metadata.Labels?.ContainsKey(Annotations.ServiceNameLabel) == true)
            .GroupBy(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Labels[Annotations.ServiceNameLabel]}")
            .ToDictionary(g => g.Key, g => g.OrderBy(s => s.Metadata.Name, StringComparer.Ordinal).ToList(), StringComparer.Ordinal);

    internal static Diagnostic NotATenantNamespace(V1Service service, string ns, TranslationOptions options) =>
        Error("NotATenantNamespace", $"Service/{ns}/{service.Metadata.Name}", "metadata.namespace",
            $"the Service is annotated {options.ExposeAnnotationKey} but '{ns}' is not a KKP user-cluster namespace " +
            "(cluster-<id>); only Services in cluster-<id> namespaces are served, under their Cluster's allowlist. " +
            "The Service is not served; KKP creates exposed Services only in cluster-<id> namespaces");

    internal static Diagnostic ClusterMissing(string id, int services) =>
        Error("ClusterMissing", $"Namespace/{TenantNamespacePrefix}{id}", "",
            $"{services} exposed Service(s) in {TenantNamespacePrefix}{id} but no Cluster object '{id}': its allowlist is unknown, " +
            "so the tenant keeps its last good policy (or, never served, is not served) and is never served open; " +
            "restore the Cluster, or remove the Services if the cluster is gone", id);

    /// <summary>The tenant of a namespace: <c>cluster-&lt;id&gt;</c> gives <c>id</c>; any other namespace is no tenant.</summary>
    public static bool TryTenantIdOf(string ns, out string id)
    {
        id = ns.StartsWith(TenantNamespacePrefix, StringComparison.Ordinal) ? ns[TenantNamespacePrefix.Length..] : "";
        return id.Length > 0;
    }

    /// <summary>
    /// envoy-manager names a Service port's listener, cluster, chain and virtual host <c>&lt;ns&gt;/&lt;svc&gt;-&lt;port&gt;</c>,
    /// which is not injective: Service <c>b</c> port <c>c-x</c> and Service <c>b-c</c> port <c>x</c> are both
    /// <c>ns/b-c-x</c>. The names stay (Envoys and dashboards know them); the older Service (then the lower name)
    /// keeps a name and the other port is dropped and reported. Checked here, not in the compiler: names carry the
    /// namespace, so only Services of one namespace can collide, and the translation sees them all at once; the
    /// model then never holds a collision, so the full and the incremental compile cannot disagree on it, and the
    /// compiler's SNI and node-port claims see only ports that will be served.
    /// </summary>
    internal static List<ExposedService> ResolveNameConflicts(List<(ExposedService Service, V1Service Source)> services, List<Diagnostic> diagnostics, string tenantId)
    {
        var owners = new Dictionary<string, (ExposedService Service, string Port)>(StringComparer.Ordinal);
        HashSet<(ExposedService, int)>? dropped = null;
        foreach (var (service, source) in services.OrderBy(s => s.Service.CreatedAt).ThenBy(s => s.Service.Name, StringComparer.Ordinal))
        {
            for (var i = 0; i < service.Ports.Count; i++)
            {
                var port = service.Ports[i];
                var name = $"{service.Namespace}/{service.Name}-{port.Name}";
                if (owners.TryAdd(name, (service, port.Name)))
                {
                    continue;
                }
                var (owner, ownerPort) = owners[name];
                var index = source.Spec?.Ports?.ToList().FindLastIndex(p => (p.Name ?? "") == port.Name) ?? -1;
                diagnostics.Add(Error("ResourceNameConflict", $"Service/{service.Key}", $"spec.ports[{index}].name",
                    $"port '{port.Name}' would be named '{name}' (envoy-manager's <namespace>/<service>-<port>), the name of port '{ownerPort}' " +
                    $"of the {(ReferenceEquals(owner, service) ? "same" : "older")} Service {owner.Key}; this port is not served until the Service or the port is renamed",
                    tenantId));
                (dropped ??= []).Add((service, i));
            }
        }
        if (dropped is null)
        {
            return [.. services.Select(s => s.Service)];
        }
        var result = new List<ExposedService>(services.Count);
        foreach (var (service, _) in services)
        {
            var ports = service.Ports.Where((_, i) => !dropped.Contains((service, i))).ToValueList();
            if (ports.Count > 0)
            {
                result.Add(ports.Count == service.Ports.Count ? service : service with { Ports = ports });
            }
        }
        return result;
    }

    internal static SeedSettings? TranslateSeed(IReadOnlyList<KkpSeed> seeds, IReadOnlyList<V1Service> services, TranslationOptions options,
        List<Diagnostic> diagnostics)
    {
        var defaults = new SeedSettings
        {
            SniPort = options.SniPort ?? 6443,
            TunnelingPort = options.TunnelingPort ?? 8088,
        };
        KkpSeed? seed;
        if (options.SeedName is not null)
        {
            seed = seeds.FirstOrDefault(s => s.Metadata.Name == options.SeedName);
            if (seed is null)
            {
                // Never "defaults": a Seed that went missing must not turn every allowlist off.
                diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "SeedMissing", $"Seed/{options.SeedName}", "",
                    $"no Seed named '{options.SeedName}' was found{Among(seeds)}; nothing new is applied (the last good configuration, if any, " +
                    "stays in force). Create the Seed or correct --seed-name / --seed-namespace"));
                return null;
            }
        }
        else if (seeds.Count > 1)
        {
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "SeedAmbiguous", "Seed", "",
                $"{seeds.Count} Seed objects found ({string.Join(", ", seeds.Select(s => s.Metadata.Name))}); nothing new is applied (the last good " +
                "configuration, if any, stays in force). Name the one this proxy serves with --seed-name"));
            return null;
        }
        else if (seeds.Count == 0)
        {
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Error, "SeedMissing", "Seed", "",
                "no Seed object was found; nothing new is applied (the last good configuration, if any, stays in force). Create the Seed, " +
                "or correct --seed-namespace (the folder source: add the Seed manifest)"));
            return null;
        }
        else
        {
            seed = seeds[0];
        }

        var obj = $"Seed/{seed.Metadata.Name}";
        var ok = true;
        var annotations = seed.Metadata.Annotations ?? new Dictionary<string, string>();
        var settings = defaults with { Name = seed.Metadata.Name };

        if (annotations.TryGetValue(Annotations.CloudProvider, out var providerText))
        {
            if (TryParseProvider(providerText, out var provider))
            {
                settings = settings with { Provider = provider, ProviderSource = $"annotation {Annotations.CloudProvider} on {obj}" };
            }
            else
            {
                ok = false;
                diagnostics.Add(Error("UnknownProvider", obj, $"metadata.annotations[{Annotations.CloudProvider}]",
                    $"unknown cloud provider '{providerText}'; use one of {string.Join(", ", KnownProviders.Keys)}"));
            }
        }
        else
        {
            var (inferred, source) = InferProvider(seed);
            settings = settings with { Provider = inferred, ProviderSource = source };
        }
        settings = ReadNodePortProxyService(settings, services, options, diagnostics);
        ok &= ReadBool(annotations, Annotations.SourceIpPreserved, obj, diagnostics, v => settings = settings with { SourceIpPreservedOverride = v });
        ok &= ReadBool(annotations, Annotations.ProxyProtocol, obj, diagnostics, v => settings = settings with { ProxyProtocol = v ?? false });
        if (annotations.TryGetValue(Annotations.ProxyProtocolTrustedRanges, out var trusted))
        {
            var ranges = ParseRanges(trusted.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), obj,
                $"metadata.annotations[{Annotations.ProxyProtocolTrustedRanges}]", diagnostics, null);
            ok &= ranges is not null;
            settings = settings with { ProxyProtocolTrustedRanges = ranges ?? ValueList<CidrRange>.Empty };
        }
        ok &= ReadChoice(annotations, Annotations.UnenforceableAllowlist, obj, diagnostics, null, ("report-open", UnenforceablePolicy.ReportOpen), ("deny-all", UnenforceablePolicy.DenyAll),
            v => settings = settings with { Unenforceable = v });
        ok &= ReadChoice(annotations, Annotations.ConfigSource, obj, diagnostics, null, ("ads", ConfigSourceStyle.Ads), ("grpc", ConfigSourceStyle.Grpc),
            v => settings = settings with { ConfigSource = v });
        ok &= ReadChoice(annotations, Annotations.RbacDelivery, obj, diagnostics, null, ("ecds", RbacDelivery.Ecds), ("inline", RbacDelivery.Inline),
            v => settings = settings with { RbacDelivery = v });
        if (annotations.TryGetValue(Annotations.MaxConnectionDuration, out var maxDuration))
        {
            if (TryParseConnectionCap(maxDuration, out var duration))
            {
                settings = settings with { MaxConnectionDuration = duration };
            }
            else
            {
                ok = false;
                diagnostics.Add(Error("InvalidAnnotation", obj, $"metadata.annotations[{Annotations.MaxConnectionDuration}]",
                    $"'{maxDuration}' is not a duration from 1s to 30 days such as '1h', '90m' or '1h30m' (or '0' for no cap)"));
            }
        }
        if (settings.ProxyProtocol && settings.ProxyProtocolTrustedRanges.Count == 0)
        {
            ok = false;
            diagnostics.Add(Error("ProxyProtocolUntrusted", obj, $"metadata.annotations[{Annotations.ProxyProtocolTrustedRanges}]",
                "PROXY protocol is on but no load balancer ranges are trusted: anyone reaching a node port directly could forge " +
                "an allowed source address. List the load balancer's addresses in this annotation"));
        }
        var defaultRanges = ParseRanges(seed.Spec?.DefaultAPIServerAllowedIPRanges ?? [], obj, "spec.defaultAPIServerAllowedIPRanges", diagnostics, null);
        ok &= defaultRanges is not null;
        settings = settings with { DefaultAllowedRanges = defaultRanges ?? ValueList<CidrRange>.Empty };
        return ok ? settings : null;
    }

    private static string Among(IReadOnlyList<KkpSeed> seeds) =>
        seeds.Count == 0 ? "" : $" (found: {string.Join(", ", seeds.Select(s => s.Metadata.Name))})";

    /// <summary>
    /// The provider of a Seed without the annotation, from its datacenters (<c>spec.datacenters.*.spec.&lt;provider&gt;</c>):
    /// the one provider they all share, else unknown. Unknown is never guessed upward: it keeps allowlists not enforceable.
    /// </summary>
    public static (CloudProvider Provider, string Source) InferProvider(KkpSeed seed)
    {
        var obj = $"Seed/{seed.Metadata.Name}";
        var datacenters = seed.Spec?.Datacenters;
        if (datacenters is null || datacenters.Count == 0)
        {
            return (CloudProvider.Unspecified, $"unknown: {obj} has no {Annotations.CloudProvider} annotation and no datacenters");
        }
        var byDatacenter = datacenters
            .OrderBy(d => d.Key, StringComparer.Ordinal)
            .Select(d => (Name: d.Key, Blocks: d.Value?.Spec?.ProviderBlockNames() ?? []))
            .ToList();
        var names = byDatacenter.Select(d => d.Blocks.Count == 1 ? d.Blocks[0] : null).Distinct().ToList();
        var list = string.Join(", ", byDatacenter.Select(d => $"{d.Name}: {(d.Blocks.Count == 0 ? "no provider" : string.Join("+", d.Blocks))}"));
        if (names.Count == 1 && names[0] is { } only && KnownProviders.TryGetValue(only, out var provider))
        {
            return (provider, $"inferred from {obj} spec.datacenters (all {only}: {string.Join(", ", byDatacenter.Select(d => d.Name))})");
        }
        return (CloudProvider.Unspecified, $"unknown: {obj} has no {Annotations.CloudProvider} annotation and its datacenters do not share one provider ({list})");
    }

    /// <summary>
    /// The nodeport-proxy's LoadBalancer Service, when it is among the objects: with <c>externalTrafficPolicy: Cluster</c>
    /// (Kubernetes' default) a node forwards to Envoy on another node after SNAT, so no provider keeps the client address.
    /// </summary>
    private static SeedSettings ReadNodePortProxyService(SeedSettings settings, IReadOnlyList<V1Service> services, TranslationOptions options,
        List<Diagnostic> diagnostics)
    {
        var service = services.FirstOrDefault(s => s.Metadata.Name == options.NodePortProxyServiceName
            && (s.Metadata.NamespaceProperty ?? "default") == options.NodePortProxyNamespace);
        if (service is null)
        {
            return settings;
        }
        var policy = service.Spec?.ExternalTrafficPolicy;
        settings = settings with
        {
            NodePortProxyService = $"{options.NodePortProxyNamespace}/{options.NodePortProxyServiceName}",
            ExternalTrafficPolicy = string.IsNullOrEmpty(policy) ? null : policy,
        };
        if (settings.ServiceLosesClientAddress && !settings.ProxyProtocol
            && (settings.SourceIpPreservedOverride == true || SeedSettings.ProviderPreservesSourceIp(settings.Provider)))
        {
            var tail = settings.SourceIpPreservedOverride == true
                ? $"the Seed's {Annotations.SourceIpPreserved}: true overrides this; remove it unless the CNI keeps client addresses without SNAT"
                : "allowlists are NOT enforceable until it is 'Local'";
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "SourceIpNotPreserved", $"Service/{settings.NodePortProxyService}",
                "spec.externalTrafficPolicy",
                $"'{policy ?? "(absent: Cluster)"}' lets nodes SNAT client addresses even behind a {SeedSettings.ProviderName(settings.Provider)} load balancer " +
                $"that keeps them; set externalTrafficPolicy: Local on this Service; {tail}"));
        }
        return settings;
    }

    /// <summary>The longest cap the annotation takes: longer is surely a typo, and a cap is what bounds a revoked tunnel.</summary>
    private static readonly TimeSpan LongestConnectionCap = TimeSpan.FromDays(30);

    /// <summary>
    /// The project's duration grammar (<see cref="GoDuration"/>) bounded for a connection cap: <c>0</c> (no cap) or from one
    /// second (shorter would end connections before a TLS handshake completes) to 30 days.
    /// </summary>
    internal static bool TryParseConnectionCap(string text, out TimeSpan duration) =>
        GoDuration.TryParse(text, out duration)
        && (duration == TimeSpan.Zero || (duration >= TimeSpan.FromSeconds(1) && duration <= LongestConnectionCap));

    internal static Tenant? TranslateTenant(string id, KkpCluster cluster, List<ExposedService> services, List<Diagnostic> diagnostics)
    {
        var obj = $"Cluster/{id}";
        var ok = true;
        var strategy = ExposeStrategy.NodePort; // KKP's default
        var strategyText = cluster.Spec?.ExposeStrategy;
        if (!string.IsNullOrEmpty(strategyText))
        {
            if (!Enum.TryParse(strategyText, ignoreCase: false, out strategy) || !Enum.IsDefined(strategy))
            {
                ok = false;
                diagnostics.Add(Error("InvalidExposeStrategy", obj, "spec.exposeStrategy",
                    $"'{strategyText}' is not one of NodePort, LoadBalancer, Tunneling", id));
            }
        }

        var providerName = cluster.Spec?.Cloud?.ProviderName;
        if (string.IsNullOrEmpty(providerName))
        {
            providerName = cluster.Spec?.Cloud?.ProviderBlocks?.Keys.FirstOrDefault(k => KnownProviders.ContainsKey(k));
        }
        else if (!KnownProviders.ContainsKey(providerName))
        {
            ok = false;
            diagnostics.Add(Error("UnknownProvider", obj, "spec.cloud.providerName",
                $"unknown cloud provider '{providerName}'; use one of {string.Join(", ", KnownProviders.Keys)}", id));
        }

        var mode = AllowlistMode.Enforce;
        ok &= ReadChoice(cluster.Metadata.Annotations ?? new Dictionary<string, string>(), Annotations.AllowlistMode, obj, diagnostics, id,
            ("enforce", AllowlistMode.Enforce), ("dry-run", AllowlistMode.DryRun), v => mode = v);

        var blocks = cluster.Spec?.ApiServerAllowedIPRanges?.CidrBlocks ?? [];
        var ranges = ParseRanges(blocks, obj, "spec.apiServerAllowedIPRanges.cidrBlocks", diagnostics, id);
        ok &= ranges is not null;
        if (!ok)
        {
            return null;
        }
        if (strategy == ExposeStrategy.LoadBalancer && ranges!.Count > 0)
        {
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "AllowlistNotOurs", obj, "spec.apiServerAllowedIPRanges",
                "the cluster uses the LoadBalancer expose strategy: its own load balancer's loadBalancerSourceRanges enforce this list; " +
                "the shared nodeport-proxy ignores it", id));
        }
        return new Tenant
        {
            Id = id,
            Strategy = strategy,
            CloudProviderName = providerName,
            AllowedRanges = ranges!,
            AllowlistMode = mode,
            Services = services.ToValueList(),
        };
    }

    internal readonly record struct ServiceOutcome(ExposedService? Service, bool Failed);

    internal static ServiceOutcome? TranslateService(
        V1Service service,
        Dictionary<string, List<V1EndpointSlice>> slicesByService,
        TranslationOptions options,
        List<Diagnostic> diagnostics,
        string tenantId)
    {
        var annotations = service.Metadata.Annotations;
        if (annotations is null || !annotations.TryGetValue(options.ExposeAnnotationKey, out var exposeText))
        {
            return null;
        }
        var obj = $"Service/{service.Metadata.NamespaceProperty}/{service.Metadata.Name}";
        var exposeField = $"metadata.annotations[{options.ExposeAnnotationKey}]";
        bool nodePort = false, sni = false, tunneling = false;
        if (exposeText.Trim() == "true")
        {
            nodePort = true;
        }
        else
        {
            foreach (var token in exposeText.Split(',', StringSplitOptions.TrimEntries))
            {
                switch (token)
                {
                    case "NodePort":
                        nodePort = true;
                        break;
                    case "SNI":
                        sni = true;
                        break;
                    case "Tunneling":
                        tunneling = true;
                        break;
                    default:
                        // envoy-manager: any invalid token means "not exposed". We say so.
                        diagnostics.Add(Error("InvalidExposeAnnotation", obj, exposeField,
                            $"'{token}' in '{exposeText}' is not NodePort, SNI or Tunneling (legacy 'true' = NodePort); the Service is not exposed", tenantId));
                        return new ServiceOutcome(null, true);
                }
            }
        }

        Dictionary<string, string>? portMapping = null;
        if (sni)
        {
            if (!annotations.TryGetValue(Annotations.PortMapping, out var mappingText))
            {
                diagnostics.Add(Error("MissingPortMapping", obj, $"metadata.annotations[{Annotations.PortMapping}]",
                    "SNI exposure needs a port mapping (JSON object: port name → SNI hostname)", tenantId));
                return new ServiceOutcome(null, true);
            }
            try
            {
                portMapping = JsonSerializer.Deserialize<Dictionary<string, string>>(mappingText);
            }
            catch (JsonException e)
            {
                diagnostics.Add(Error("InvalidPortMapping", obj, $"metadata.annotations[{Annotations.PortMapping}]",
                    $"not a JSON object of port name → hostname: {e.Message}", tenantId));
                return new ServiceOutcome(null, true);
            }
            portMapping ??= [];
            foreach (var (portName, host) in portMapping)
            {
                if (service.Spec?.Ports?.Any(p => p.Name == portName) != true)
                {
                    diagnostics.Add(Error("InvalidPortMapping", obj, $"metadata.annotations[{Annotations.PortMapping}]",
                        $"port '{portName}' is not a port of the Service", tenantId));
                    return new ServiceOutcome(null, true);
                }
                if ((host ?? "").Contains('*'))
                {
                    diagnostics.Add(Error("WildcardSniHostname", obj, $"metadata.annotations[{Annotations.PortMapping}]",
                        $"'{host}' (port '{portName}') is a wildcard: refused. Envoy matches a wildcard chain for every name under it that no " +
                        "exact chain holds, so it would take the connections of names nobody serves yet and of a tenant that is not served " +
                        "(conflict, missing Cluster, deletion); KKP's hostnames are exact. Name the exact hostname", tenantId));
                    return new ServiceOutcome(null, true);
                }
                if (!IsValidSniHostname(host))
                {
                    diagnostics.Add(Error("InvalidPortMapping", obj, $"metadata.annotations[{Annotations.PortMapping}]",
                        $"'{host}' (port '{portName}') is not a DNS hostname usable as TLS SNI", tenantId));
                    return new ServiceOutcome(null, true);
                }
            }
        }

        if (nodePort && service.Spec?.Type != "NodePort")
        {
            diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "NotNodePortService", obj, "spec.type",
                $"exposed as NodePort but the Service is of type '{service.Spec?.Type}'; NodePort exposure skipped", tenantId));
            nodePort = false;
        }

        var key = $"{service.Metadata.NamespaceProperty}/{service.Metadata.Name}";
        slicesByService.TryGetValue(key, out var slices);
        slices = UsableSlices(slices, diagnostics, tenantId);
        var ports = new List<ExposedPort>();
        var specPorts = service.Spec?.Ports ?? [];
        for (var index = 0; index < specPorts.Count; index++)
        {
            var port = specPorts[index];
            if ((port.Protocol ?? "TCP") != "TCP")
            {
                continue;
            }
            // The API server validates these; a folder manifest may not, and Envoy refuses the whole update over one.
            if (port.Port is < 1 or > 65535 || port.NodePort is < 0 or > 65535)
            {
                diagnostics.Add(Error("InvalidPort", obj, $"spec.ports[{index}]",
                    $"port {port.Port} / nodePort {port.NodePort} is outside 1..65535; the port is not served", tenantId));
                continue;
            }
            var name = port.Name ?? "";
            string? host = null;
            portMapping?.TryGetValue(name, out host);
            var viaNodePort = nodePort && port.NodePort is > 0;
            if (!viaNodePort && host is null && !tunneling)
            {
                continue;
            }
            ports.Add(new ExposedPort
            {
                Name = name,
                Port = port.Port,
                NodePort = port.NodePort ?? 0,
                ViaNodePort = viaNodePort,
                SniHostname = host?.ToLowerInvariant(),
                ViaTunneling = tunneling,
                Endpoints = ReadyEndpoints(slices, port),
            });
        }
        return new ServiceOutcome(new ExposedService
        {
            Namespace = service.Metadata.NamespaceProperty ?? "default",
            Name = service.Metadata.Name,
            CreatedAt = service.Metadata.CreationTimestamp is { } created ? new DateTimeOffset(DateTime.SpecifyKind(created, DateTimeKind.Utc)) : DateTimeOffset.MinValue,
            Ports = ports.ToValueList(),
        }, false);
    }

    /// <summary>
    /// The slices with only what Envoy can use as a STATIC socket address: each address parsed strictly and of the
    /// slice's <c>addressType</c>, written canonically; FQDN slices (and unknown types) are not served at all, since
    /// an EDS endpoint must be an IP address. What is dropped is reported (a warning: the rest is served). A clean
    /// slice (the usual one) is returned as it is; only another is copied (never changed: the inventory is shared).
    /// </summary>
    private static List<V1EndpointSlice>? UsableSlices(List<V1EndpointSlice>? slices, List<Diagnostic> diagnostics, string tenantId)
    {
        if (slices is null)
        {
            return null;
        }
        var result = new List<V1EndpointSlice>(slices.Count);
        foreach (var slice in slices)
        {
            var obj = $"EndpointSlice/{slice.Metadata.NamespaceProperty}/{slice.Metadata.Name}";
            bool? v4 = slice.AddressType switch { "IPv4" => true, "IPv6" => false, _ => null };
            if (v4 is not { } isV4)
            {
                diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "UnsupportedAddressType", obj, "addressType",
                    $"addressType '{slice.AddressType}' is not served: Envoy's endpoints here are IP addresses (IPv4 or IPv6 slices)", tenantId));
                continue;
            }
            if (IsClean(slice, isV4))
            {
                result.Add(slice); // the usual slice: nothing copied
                continue;
            }
            var ports = new List<Discoveryv1EndpointPort>(slice.Ports?.Count ?? 0);
            for (var i = 0; i < (slice.Ports?.Count ?? 0); i++)
            {
                if (slice.Ports![i].Port is < 1 or > 65535)
                {
                    diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "InvalidEndpointPort", obj, $"ports[{i}].port",
                        $"port {slice.Ports[i].Port} is outside 1..65535; skipped", tenantId));
                    continue;
                }
                ports.Add(slice.Ports[i]);
            }
            var endpoints = new List<V1Endpoint>(slice.Endpoints?.Count ?? 0);
            for (var i = 0; i < (slice.Endpoints?.Count ?? 0); i++)
            {
                var endpoint = slice.Endpoints![i];
                var addresses = new List<string>(endpoint.Addresses?.Count ?? 0);
                for (var j = 0; j < (endpoint.Addresses?.Count ?? 0); j++)
                {
                    var text = endpoint.Addresses![j] ?? "";
                    if (UsableAddress(text, isV4) is { } canonical)
                    {
                        addresses.Add(canonical);
                        continue;
                    }
                    diagnostics.Add(new Diagnostic(DiagnosticSeverity.Warning, "InvalidEndpointAddress", obj, $"endpoints[{i}].addresses[{j}]",
                        $"'{text}' is not an {slice.AddressType} address (the slice's addressType); skipped", tenantId));
                }
                endpoints.Add(new V1Endpoint
                {
                    Addresses = addresses,
                    Conditions = endpoint.Conditions,
                    DeprecatedTopology = endpoint.DeprecatedTopology,
                    Hints = endpoint.Hints,
                    Hostname = endpoint.Hostname,
                    NodeName = endpoint.NodeName,
                    TargetRef = endpoint.TargetRef,
                    Zone = endpoint.Zone,
                });
            }
            result.Add(new V1EndpointSlice
            {
                ApiVersion = slice.ApiVersion,
                Kind = slice.Kind,
                Metadata = slice.Metadata,
                AddressType = slice.AddressType,
                Ports = ports,
                Endpoints = endpoints,
            });
        }
        return result;
    }

    /// <summary>Whether every port is in range and every address canonical and of the slice's family.</summary>
    private static bool IsClean(V1EndpointSlice slice, bool isV4)
    {
        if (slice.Ports?.Any(p => p.Port is < 1 or > 65535) == true)
        {
            return false;
        }
        foreach (var endpoint in slice.Endpoints ?? [])
        {
            foreach (var text in endpoint.Addresses ?? [])
            {
                if (UsableAddress(text, isV4) != text)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>The canonical form of an IP address of the family, or null when it is none.</summary>
    private static string? UsableAddress(string? text, bool isV4) =>
        text is not null && !text.Contains('/') && CidrRange.TryParse($"{text}/{(isV4 ? 32 : 128)}", out var parsed, out _) && parsed.IsIPv4 == isV4
            ? parsed.NetworkText
            : null;

    /// <summary>
    /// Ready addresses only (as envoy-manager), for the slice port with the Service port's name, unique, with the zone
    /// and node the slice gives them; sorted by zone, then address and port. An address that two slices place
    /// differently keeps the ordinally first (zone, node), so the result does not depend on the slices' order.
    /// </summary>
    private static ValueList<UpstreamEndpoint> ReadyEndpoints(List<V1EndpointSlice>? slices, V1ServicePort port)
    {
        if (slices is null)
        {
            return ValueList<UpstreamEndpoint>.Empty;
        }
        var result = new Dictionary<(string Address, int Port), (string Zone, string Node)>();
        foreach (var slice in slices)
        {
            var slicePort = slice.Ports?.FirstOrDefault(p => (p.Name ?? "") == (port.Name ?? "") && (p.Protocol ?? "TCP") == "TCP");
            if (slicePort?.Port is not { } targetPort)
            {
                continue;
            }
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (endpoint.Conditions?.Ready == false)
                {
                    continue;
                }
                var place = (Zone: endpoint.Zone ?? "", Node: endpoint.NodeName ?? "");
                foreach (var address in endpoint.Addresses ?? [])
                {
                    if (!result.TryGetValue((address, targetPort), out var seen) || Before(place, seen))
                    {
                        result[(address, targetPort)] = place;
                    }
                }
            }
        }
        return result
            .Select(e => new UpstreamEndpoint(e.Key.Address, e.Key.Port, e.Value.Zone, e.Value.Node))
            .OrderBy(e => e.Zone, StringComparer.Ordinal)
            .ThenBy(e => e.Address, StringComparer.Ordinal)
            .ThenBy(e => e.Port)
            .ToValueList();

        static bool Before((string Zone, string Node) a, (string Zone, string Node) b)
        {
            var zone = string.CompareOrdinal(a.Zone, b.Zone);
            return zone < 0 || (zone == 0 && string.CompareOrdinal(a.Node, b.Node) < 0);
        }
    }

    private static ValueList<CidrRange>? ParseRanges(IReadOnlyList<string> entries, string obj, string field, List<Diagnostic> diagnostics, string? tenantId)
    {
        var ranges = new List<CidrRange>(entries.Count);
        var ok = true;
        for (var i = 0; i < entries.Count; i++)
        {
            if (CidrRange.TryParse(entries[i] ?? "", out var range, out var error))
            {
                ranges.Add(range);
            }
            else
            {
                ok = false;
                diagnostics.Add(Error("InvalidCidr", obj, $"{field}[{i}]", $"'{entries[i]}': {error}", tenantId));
            }
        }
        return ok ? ranges.ToValueList() : null;
    }

    private static bool ReadBool(IDictionary<string, string> annotations, string key, string obj, List<Diagnostic> diagnostics, Action<bool?> set) =>
        ReadChoice<bool?>(annotations, key, obj, diagnostics, null, ("true", true), ("false", false), set);

    /// <summary>An annotation that must be one of two words; absent leaves the default. False (and a diagnostic) when it is neither.</summary>
    private static bool ReadChoice<T>(IDictionary<string, string> annotations, string key, string obj, List<Diagnostic> diagnostics, string? tenantId,
        (string Word, T Value) first, (string Word, T Value) second, Action<T> set)
    {
        if (!annotations.TryGetValue(key, out var text))
        {
            return true;
        }
        var word = text.Trim();
        if (word == first.Word || word == second.Word)
        {
            set(word == first.Word ? first.Value : second.Value);
            return true;
        }
        diagnostics.Add(Error("InvalidAnnotation", obj, $"metadata.annotations[{key}]", $"'{text}' is not '{first.Word}' or '{second.Word}'", tenantId));
        return false;
    }

    /// <summary>An exact DNS hostname (wildcards are refused before this): anything else would never match as TLS SNI.</summary>
    private static bool IsValidSniHostname(string? host)
    {
        if (string.IsNullOrEmpty(host) || host.Length > 253)
        {
            return false;
        }
        var labels = host.Split('.');
        for (var i = 0; i < labels.Length; i++)
        {
            var label = labels[i];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }
        return true;
    }

    internal static Diagnostic Error(string code, string obj, string field, string message, string? tenantId = null) =>
        new(DiagnosticSeverity.Error, code, obj, field, message, tenantId);

    /// <summary>KKP's provider names (<c>spec.cloud.providerName</c>) and our model's provider.</summary>
    public static IReadOnlyDictionary<string, CloudProvider> KnownProviders { get; } = new SortedDictionary<string, CloudProvider>(StringComparer.Ordinal)
    {
        ["alibaba"] = CloudProvider.Alibaba,
        ["anexia"] = CloudProvider.Anexia,
        ["aws"] = CloudProvider.Aws,
        ["azure"] = CloudProvider.Azure,
        ["baremetal"] = CloudProvider.BringYourOwn,
        ["bringyourown"] = CloudProvider.BringYourOwn,
        ["digitalocean"] = CloudProvider.DigitalOcean,
        ["edge"] = CloudProvider.Edge,
        ["equinixmetal"] = CloudProvider.EquinixMetal,
        ["gcp"] = CloudProvider.Gcp,
        ["hetzner"] = CloudProvider.Hetzner,
        ["kubevirt"] = CloudProvider.KubeVirt,
        ["nutanix"] = CloudProvider.Nutanix,
        ["openstack"] = CloudProvider.OpenStack,
        ["vmwareclouddirector"] = CloudProvider.Vcd,
        ["vsphere"] = CloudProvider.VSphere,
    };

    private static bool TryParseProvider(string text, out CloudProvider provider) =>
        KnownProviders.TryGetValue(text.Trim().ToLower(CultureInfo.InvariantCulture), out provider);
}
