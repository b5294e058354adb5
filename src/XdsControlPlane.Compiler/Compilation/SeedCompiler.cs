using System.Collections.Immutable;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Model → snapshot. Pure and deterministic; given the previous result it recompiles only the tenants
/// whose input changed and patches the previous resource sets, so one tenant's change costs O(that tenant)
/// plus a pass over references for the SNI listener.
/// </summary>
public static class SeedCompiler
{
    /// <param name="drainRevocations">
    /// True (the default): a narrowing renames the tenant's filter at once, so Envoy drains its chain. False: the
    /// narrower config is served under the old name (new connections are refused at once) and the drain is owed
    /// (<see cref="CompiledSeed.OwedRevocations"/>) until a compile that drains, which also drains every owed one.
    /// </param>
    public static CompiledSeed Compile(SeedModel model, CompiledSeed? previous = null, IReadOnlySet<string>? servingLastGood = null,
        bool drainRevocations = true)
    {
        var seed = model.Seed;
        var reuse = previous is not null && previous.Model.Seed.Equals(seed) && IsSortedById(model.Tenants);
        var changed = new List<(TenantArtifacts? Old, TenantArtifacts? New)>();
        var recompiled = 0;
        Claims claims = null!, nodePortClaims = null!; // a first compile makes them beside the resource sets, below
        Claims.Grouped? grouped = null, groupedNodePorts = null;
        ImmutableSortedDictionary<string, TenantArtifacts> compiled;
        TenantArtifacts[] ordered;
        IReadOnlyList<string>? changedTenantIds = null;
        if (reuse)
        {
            // Only the tenants whose input changed, and those sharing a hostname with them, are looked at:
            // a merge of two id-sorted sequences finds the changes without a lookup per tenant.
            var removedOrOld = new List<Tenant>();
            var added = new List<Tenant>();
            var changedIds = new Dictionary<string, (TenantArtifacts? Old, Tenant? New)>(StringComparer.Ordinal);
            var before = previous!.Ordered;
            var b = 0;
            foreach (var tenant in model.Tenants)
            {
                if (b < before.Length && ReferenceEquals(before[b].Tenant, tenant))
                {
                    b++; // the same instance: unchanged (sources hand over unchanged tenants as they were)
                    continue;
                }
                while (b < before.Length && string.CompareOrdinal(before[b].Tenant.Id, tenant.Id) < 0)
                {
                    changedIds[before[b].Tenant.Id] = (before[b], null);
                    removedOrOld.Add(before[b].Tenant);
                    b++;
                }
                if (b < before.Length && before[b].Tenant.Id == tenant.Id)
                {
                    var old = before[b];
                    if (!old.Tenant.Equals(tenant))
                    {
                        changedIds[tenant.Id] = (old, tenant);
                        removedOrOld.Add(old.Tenant);
                        added.Add(tenant);
                    }
                    b++;
                }
                else
                {
                    changedIds[tenant.Id] = (null, tenant);
                    added.Add(tenant);
                }
            }
            for (; b < before.Length; b++)
            {
                changedIds[before[b].Tenant.Id] = (before[b], null);
                removedOrOld.Add(before[b].Tenant);
            }

            if (drainRevocations)
            {
                // Owed drains are paid now: those tenants are recompiled (renamed) though their input is the same.
                foreach (var id in previous.OwedRevocations)
                {
                    if (!changedIds.ContainsKey(id) && previous.Tenants.TryGetValue(id, out var owing))
                    {
                        changedIds[id] = (owing, owing.Tenant);
                    }
                }
            }
            var touched = new HashSet<string>(StringComparer.Ordinal);
            var touchedNodePorts = new HashSet<string>(StringComparer.Ordinal);
            claims = previous.Claims.With(removedOrOld, added, seed, touched);
            nodePortClaims = previous.NodePortClaims.With(removedOrOld, added, seed, touchedNodePorts);
            foreach (var holder in touched.SelectMany(claims.Holders).Concat(touchedNodePorts.SelectMany(nodePortClaims.Holders)))
            {
                if (!changedIds.ContainsKey(holder) && previous.Tenants.TryGetValue(holder, out var unchanged))
                {
                    changedIds[holder] = (unchanged, unchanged.Tenant);
                }
            }

            var builder = previous.Tenants.ToBuilder();
            foreach (var (id, (old, tenant)) in changedIds)
            {
                if (tenant is null)
                {
                    builder.Remove(id);
                    changed.Add((old, null));
                    continue;
                }
                var lost = claims.Lost(tenant, seed);
                var lostNodePorts = nodePortClaims.Lost(tenant, seed);
                var conflictKey = Claims.ConflictKey(lost, lostNodePorts);
                if (old is not null && ReferenceEquals(old.Tenant, tenant) && old.ConflictKey == conflictKey && !(drainRevocations && old.RevocationOwed))
                {
                    continue; // shares a hostname or node port with a changed tenant, but who owns it did not change
                }
                var artifacts = TenantCompiler.Compile(tenant, seed, lost, conflictKey, old, drainRevocations, lostNodePorts);
                recompiled++;
                changed.Add((old, artifacts));
                builder[id] = artifacts;
            }
            compiled = builder.ToImmutable();
            if (changedIds.Count == 0)
            {
                ordered = before;
            }
            else if (before.Length == model.Tenants.Count && changedIds.Values.All(c => c.Old is not null && c.New is not null))
            {
                // Nobody came or went: every tenant keeps its slot, the changed ones are found by binary search.
                ordered = (TenantArtifacts[])before.Clone();
                foreach (var (id, _) in changedIds)
                {
                    var slot = Array.BinarySearch(ordered, id, ArtifactsById.Instance);
                    ordered[slot] = compiled[id];
                }
            }
            else
            {
                // Unchanged tenants keep their place; a pass over references, no lookups.
                ordered = new TenantArtifacts[model.Tenants.Count];
                for (int i = 0, j = 0; i < ordered.Length; i++)
                {
                    var id = model.Tenants[i].Id;
                    while (j < before.Length && string.CompareOrdinal(before[j].Tenant.Id, id) < 0)
                    {
                        j++;
                    }
                    ordered[i] = j < before.Length && before[j].Tenant.Id == id && !changedIds.ContainsKey(id) ? before[j] : compiled[id];
                }
            }
            changedTenantIds = [.. changedIds.Keys];
        }
        else
        {
            grouped = Claims.Group(ClaimKind.SniHostname, model.Tenants, seed);
            groupedNodePorts = Claims.Group(ClaimKind.NodePort, model.Tenants, seed);
            // Tenants compile independently (claims and the previous result are immutable); each result goes
            // to its tenant's slot, so the outcome does not depend on scheduling.
            var results = new TenantArtifacts[model.Tenants.Count];
            Parallel.For(0, results.Length, i =>
            {
                var tenant = model.Tenants[i];
                var lost = grouped.Lost(tenant);
                var lostNodePorts = groupedNodePorts.Lost(tenant);
                TenantArtifacts? old = null;
                previous?.Tenants.TryGetValue(tenant.Id, out old);
                results[i] = TenantCompiler.Compile(tenant, seed, lost, Claims.ConflictKey(lost, lostNodePorts), old, drainRevocations, lostNodePorts);
            });
            recompiled = results.Length;
            if (IsSortedById(model.Tenants))
            {
                ordered = results;
                compiled = null!; // built below, beside the resource sets
            }
            else
            {
                var builder = ImmutableSortedDictionary.CreateBuilder<string, TenantArtifacts>(StringComparer.Ordinal);
                foreach (var artifacts in results)
                {
                    builder[artifacts.Tenant.Id] = artifacts; // a repeated id: the last one wins, as before
                }
                compiled = builder.ToImmutable();
                ordered = [.. compiled.Values];
            }
        }

        ResourceSet clusters, endpoints, listeners, extensions, routes, scopes;
        if (reuse)
        {
            scopes = Patch(previous!.Snapshot.Get(TypeUrls.ScopedRoute), changed, a => a.TunnelingScopes);
            extensions = Patch(previous!.Snapshot.Get(TypeUrls.ExtensionConfig), changed, a => a.ExtensionConfigs);
            clusters = Patch(previous!.Snapshot.Get(TypeUrls.Cluster), changed, a => a.Clusters);
            endpoints = Patch(previous.Snapshot.Get(TypeUrls.Endpoint), changed, a => a.Endpoints);
            listeners = Patch(previous.Snapshot.Get(TypeUrls.Listener), changed, a => a.NodePortListeners);
            routes = Patch(previous.Snapshot.Get(TypeUrls.Route), changed, a => a.TunnelingRoutes);
        }
        else
        {
            // Each set (and the tenants by id) is a sorted tree built one insertion at a time (30,000 names for the
            // larger ones at 10,000 tenants): they are independent, so they are built side by side.
            ResourceSet? x = null, c = null, e = null, l = null, r = null, s = null;
            var byId = compiled;
            Claims? made = null, madeNodePorts = null;
            Parallel.Invoke(
                () => made = grouped!.ToClaims(),
                () => madeNodePorts = groupedNodePorts!.ToClaims(),
                () => byId ??= ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, ordered.Select(a => KeyValuePair.Create(a.Tenant.Id, a))),
                () => c = new ResourceSet(TypeUrls.Cluster,
                    ordered.SelectMany(a => a.Clusters).Prepend(EnvoyResource.FromBytes(EnvoyNames.StatsCluster, Envoy.Config.Cluster.V3.Cluster.Descriptor, SharedListeners.StatsCluster(seed)))),
                () => e = new ResourceSet(TypeUrls.Endpoint, ordered.SelectMany(a => a.Endpoints)),
                () => l = new ResourceSet(TypeUrls.Listener,
                    ordered.SelectMany(a => a.NodePortListeners).Prepend(EnvoyResource.FromBytes(EnvoyNames.StatsListener, Envoy.Config.Listener.V3.Listener.Descriptor, SharedListeners.StatsListener(seed)))),
                () => x = new ResourceSet(TypeUrls.ExtensionConfig, ordered.SelectMany(a => a.ExtensionConfigs)),
                () => r = new ResourceSet(TypeUrls.Route, ordered.SelectMany(a => a.TunnelingRoutes)),
                () => s = new ResourceSet(TypeUrls.ScopedRoute, ordered.SelectMany(a => a.TunnelingScopes)));
            (clusters, endpoints, listeners, extensions, routes, scopes, compiled, claims, nodePortClaims) = (c!, e!, l!, x!, r!, s!, byId, made!, madeNodePorts!);
        }

        // The shared listeners, present only when some tenant uses them (as envoy-manager does). Their versions
        // are running digests of their parts, updated by the changed tenants alone; the message (12,000 chains
        // at 10,000 tenants) is assembled only when a stream or the debug page first needs it, and not at all
        // when a change leaves every part as it was (a widening under ECDS).
        var sniTally = PartsTally.Update(reuse ? previous!.SniTally : null, changed, ordered, a => a.SniChains);
        var shared = new List<EnvoyResource>();
        var sharedRemoved = new List<string>();
        // A shared listener's references are its parts' (each read once in its life), so a narrowing's check
        // does not parse 12,000 chains; its shell (address, listener filters) refers to nothing.
        AddShared(EnvoyNames.SniListener, sniTally, SharedListeners.SniListenerBytes(seed, []),
            () => SharedListeners.SniListenerBytes(seed, [.. ordered.SelectMany(a => a.SniChains)]),
            () => [.. ordered.SelectMany(a => a.SniChains).Select(SniChainPart)],
            a => a.SniChains.Select(SniChainPart));
        // The tunneling listener depends on the seed alone (its scopes come by SRDS): the same resource, bytes and
        // version for as long as some tenant tunnels, whoever comes or goes.
        if (scopes.Resources.Count == 0)
        {
            sharedRemoved.Add(EnvoyNames.TunnelingListener);
        }
        else
        {
            var tunneling = EnvoyResource.FromBytes(EnvoyNames.TunnelingListener, Envoy.Config.Listener.V3.Listener.Descriptor, SharedListeners.TunnelingListener(seed));
            shared.Add(previous is not null && previous.Snapshot.Get(TypeUrls.Listener).Resources.TryGetValue(EnvoyNames.TunnelingListener, out var held)
                && held.Version == tunneling.Version ? held : tunneling);
        }
        listeners = listeners.With(shared, sharedRemoved);

        var snapshot = new Snapshot([clusters, endpoints, listeners, scopes, routes, extensions]);
        ImmutableHashSet<string> owed;
        ImmutableSortedDictionary<string, TenantArtifacts> withFindings;
        if (reuse)
        {
            var owing = previous!.OwedRevocations.ToBuilder();
            foreach (var (old, @new) in changed)
            {
                if (old is not null)
                {
                    owing.Remove(old.Tenant.Id);
                }
                if (@new is { RevocationOwed: true })
                {
                    owing.Add(@new.Tenant.Id);
                }
            }
            owed = owing.ToImmutable();
            var findings = previous.WithFindings.ToBuilder();
            foreach (var (old, @new) in changed)
            {
                if (old is not null)
                {
                    findings.Remove(old.Tenant.Id);
                }
                if (@new is { Diagnostics.Count: > 0 })
                {
                    findings[@new.Tenant.Id] = @new;
                }
            }
            withFindings = findings.ToImmutable();
        }
        else
        {
            owed = [.. ordered.Where(a => a.RevocationOwed).Select(a => a.Tenant.Id)];
            withFindings = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
                ordered.Where(a => a.Diagnostics.Count > 0).Select(a => KeyValuePair.Create(a.Tenant.Id, a)));
        }
        var result = new CompiledSeed(model, snapshot, compiled, claims, nodePortClaims, servingLastGood ?? ImmutableHashSet<string>.Empty, recompiled, ordered)
        {
            SniTally = sniTally,
            OwedRevocations = owed,
            WithFindings = withFindings,
        };
        if (changedTenantIds is not null)
        {
            result.DerivedFrom(previous!, changedTenantIds);
        }
        return result;

        void AddShared(string name, PartsTally tally, Google.Protobuf.ByteString shell, Func<Google.Protobuf.ByteString> encode,
            Func<IReadOnlyList<ResourcePart>> references, Func<TenantArtifacts, IEnumerable<ResourcePart>> partsOf)
        {
            if (tally.Count == 0)
            {
                sharedRemoved.Add(name);
                return;
            }
            var version = ContentHash.FormatDigest(ContentHash.EntryDigest(name, ContentHash.Of(shell.Span)) + tally.Digest);
            var before = previous?.Snapshot.Get(TypeUrls.Listener).Resources.GetValueOrDefault(name);
            if (before is not null && before.Version == version)
            {
                shared.Add(before);
                return;
            }
            var parts = new ResourceParts(references);
            if (before is not null && reuse)
            {
                // Derived from the listener served: the changed tenants' parts are all that differ, so the consistency
                // check looks at them alone.
                parts.DerivedFrom(before,
                    [.. changed.Where(c => c.New is not null).SelectMany(c => partsOf(c.New!))],
                    [.. changed.Where(c => c.Old is not null).SelectMany(c => partsOf(c.Old!))]);
            }
            shared.Add(new EnvoyResource(name, Envoy.Config.Listener.V3.Listener.Descriptor, encode, version, parts));
        }
    }

    /// <summary>One SNI chain as a part: keyed by its name and hash, its references read once in the chain's life.</summary>
    private static ResourcePart SniChainPart(HashedPart<Envoy.Config.Listener.V3.FilterChain> chain) =>
        new($"{chain.Name}\0{chain.Hash}", ResourceReferences.OfPart(chain, part => ResourceReferences.OfChain(EnvoyNames.SniListener, part.Message)));

    private static ResourceSet Patch(ResourceSet set, List<(TenantArtifacts? Old, TenantArtifacts? New)> changed, Func<TenantArtifacts, IReadOnlyList<EnvoyResource>> select)
    {
        var upserts = new List<EnvoyResource>();
        var removals = new List<string>();
        foreach (var (old, @new) in changed)
        {
            var now = @new is null ? [] : select(@new);
            upserts.AddRange(now);
            if (old is not null)
            {
                var keep = now.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
                removals.AddRange(select(old).Select(r => r.Name).Where(n => !keep.Contains(n)));
            }
        }
        return set.With(upserts, removals);
    }

    private sealed class ArtifactsById : System.Collections.IComparer
    {
        public static readonly ArtifactsById Instance = new();

        public int Compare(object? x, object? y) =>
            string.CompareOrdinal(x is TenantArtifacts a ? a.Tenant.Id : (string?)x, y is TenantArtifacts b ? b.Tenant.Id : (string?)y);
    }

    internal static bool IsSortedById(ValueList<Tenant> tenants)
    {
        for (var i = 1; i < tenants.Count; i++)
        {
            if (string.CompareOrdinal(tenants[i - 1].Id, tenants[i].Id) >= 0)
            {
                return false;
            }
        }
        return true;
    }
}
