using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds.Planning;

/// <summary>
/// Where a stream decides what to send next. From a <see cref="Subscription"/>, the type's set in the current
/// snapshot, and what changed since the set the client's state was last settled against, it plans one response
/// (or none) and records in the subscription what the client then holds. No I/O, no gRPC: the stream reads
/// requests, adds nonces and writes; the table in the planner's tests states every obligation as
/// (state, event) → response.
/// </summary>
/// <remarks>
/// Both protocols find what changed the same way: when the set the client was settled against is the one the new
/// set was derived from (<see cref="ResourceSet.TryGetChangedSince(IReadOnlyDictionary{string, EnvoyResource}, out IReadOnlyList{EnvoyResource}, out IReadOnlyList{string})"/>),
/// the change set is known once for every stream and a push costs O(changes); otherwise (a new subscription, a
/// skipped snapshot, a reconnect) every subscribed resource is compared once.
/// </remarks>
internal static class ResponsePlanner
{
    /// <summary>
    /// State of the world: the response for one type, or null. LDS, CDS and SRDS carry every subscribed resource
    /// (omission is deletion), the others what the client lacks; a version the client holds is never re-sent (ACKed
    /// or NACKed alike); over ADS, clusters still used by held listeners or routes stay (make before break).
    /// <paramref name="changedEds"/> collects the EDS names of clusters just sent, for a node's per-type EDS stream.
    /// </summary>
    public static ResponsePlan? PlanSotw(Subscription sub, ResourceSet set, IReadOnlyDictionary<string, Subscription> stream, bool ads,
        DateTimeOffset now, ref List<string>? changedEds)
    {
        var typeUrl = sub.TypeUrl;
        var available = set.Resources;
        var desired = Desired(sub, available);
        if (ads && typeUrl == TypeUrls.Cluster)
        {
            desired = MakeBeforeBreak.WithRetained(sub, desired, stream);
        }
        var version = ReferenceEquals(desired, available) ? set.Version : VersionOf(desired);

        if (sub.PendingInitial && sub.ClientVersionInfo.Length > 0 && sub.ClientVersionInfo == version && sub.Force.Count == 0)
        {
            // A reconnecting client already holds exactly this (versions are content hashes).
            sub.PendingInitial = false;
            sub.Held = Hold(desired);
            sub.Acked = sub.Held;
            sub.Tracker.AlreadyHeld(version, now);
            return null;
        }

        var toSend = TypeUrls.IsFullState(typeUrl) ? FullStateDue(sub, desired, version) : Lacking(sub, set, desired);
        if (toSend is null)
        {
            return null;
        }
        var previous = sub.Held;
        sub.Held = Hold(desired);
        sub.Force.RemoveWhere(desired.ContainsKey);
        sub.PendingInitial = false;
        if (typeUrl == TypeUrls.Cluster)
        {
            NoteClusterChanges(previous, toSend, stream, ads, ref changedEds);
        }
        else if (typeUrl == TypeUrls.Endpoint)
        {
            foreach (var resource in toSend)
            {
                sub.ForceOnNextRequest.Remove(resource.Name);
            }
        }
        return new ResponsePlan(typeUrl, version, toSend, []);
    }

    /// <summary>What a SotW subscription wants of <paramref name="available"/>: the shared set itself when it covers all of it.</summary>
    private static IReadOnlyDictionary<string, EnvoyResource> Desired(Subscription sub, System.Collections.Immutable.ImmutableSortedDictionary<string, EnvoyResource> available)
    {
        // A wildcard stream wants the snapshot's set as it is: hold a reference to that immutable set (no per-stream
        // copy) and use its precomputed version (no per-stream re-hashing of every resource).
        if (sub.Wildcard || SubscribesToAll(sub.Names, available))
        {
            return available;
        }
        var subset = new SortedDictionary<string, EnvoyResource>(StringComparer.Ordinal);
        foreach (var name in sub.Names)
        {
            if (available.TryGetValue(name, out var resource))
            {
                subset[name] = resource;
            }
        }
        return subset;
    }

    /// <summary>Full-state types: every desired resource when the version or the subscription moved, else nothing.</summary>
    private static List<EnvoyResource>? FullStateDue(Subscription sub, IReadOnlyDictionary<string, EnvoyResource> desired, string version)
    {
        if (sub.PendingInitial || version != sub.Tracker.VersionSent || sub.Force.Overlaps(desired.Keys))
        {
            return [.. desired.Values];
        }
        sub.Force.Clear();
        return null;
    }

    /// <summary>
    /// The other types: what the client lacks of <paramref name="desired"/>, or null when nothing is due. From the
    /// snapshot's change set when the stream holds the whole previous set, else by comparing every resource.
    /// </summary>
    private static List<EnvoyResource>? Lacking(Subscription sub, ResourceSet set, IReadOnlyDictionary<string, EnvoyResource> desired)
    {
        var available = set.Resources;
        if (sub.Force.Count == 0 && !sub.PendingInitial && ReferenceEquals(desired, available) && ChangedSinceHeld(sub, set) is { } changed)
        {
            if (changed.Count == 0)
            {
                // Nothing, or only removals: SotW never signals those for these types. The next change is taken from
                // this set, or every stream would fall back to the comparison below.
                sub.ChangesFrom = available;
                return null;
            }
            return changed;
        }
        var lacking = new List<EnvoyResource>();
        foreach (var (name, resource) in desired)
        {
            if (sub.Force.Contains(name) || !sub.Held.TryGetValue(name, out var held) || held.Version != resource.Version)
            {
                lacking.Add(resource);
            }
        }
        if (lacking.Count > 0 || (sub.PendingInitial && sub.Wildcard))
        {
            return lacking;
        }
        // Nothing new; names requested but missing stay subscribed and are pushed when they appear.
        sub.Force.RemoveWhere(desired.ContainsKey);
        if (desired.Count == sub.Held.Count && ReferenceEquals(desired, available))
        {
            // The client holds exactly this set's content: hold this set itself, so the next change finds its delta
            // in O(changes) instead of this comparison.
            var acked = ReferenceEquals(sub.Acked, sub.Held);
            sub.Held = available;
            sub.Acked = acked ? available : sub.Acked;
        }
        return null;
    }

    /// <summary>
    /// What the client lacks of <paramref name="set"/>: empty when nothing changed since the set its changes are taken
    /// from; null when the set was not derived from that one (then every resource is compared).
    /// </summary>
    private static List<EnvoyResource>? ChangedSinceHeld(Subscription sub, ResourceSet set)
    {
        if (sub.ChangesFrom is not { } from)
        {
            return null;
        }
        if (ReferenceEquals(from, set.Resources))
        {
            return [];
        }
        if (!set.TryGetChangedSince(from, out var changed))
        {
            return null;
        }
        if (ReferenceEquals(from, sub.Held))
        {
            return [.. changed];
        }
        // After removals not sent, a resource removed and now back unchanged is still held: not sent again, as the
        // comparison would find.
        var lacking = new List<EnvoyResource>(changed.Count);
        foreach (var resource in changed)
        {
            if (!sub.Held.TryGetValue(resource.Name, out var held) || held.Version != resource.Version)
            {
                lacking.Add(resource);
            }
        }
        return lacking;
    }

    /// <summary>
    /// Delta: the upserts and removals for one type, or null. Every name just subscribed is answered; names that do
    /// not exist are listed as removed and stay subscribed; nothing unchanged is re-sent; over ADS, a cluster still
    /// used by a held listener or route is removed only once they no longer use it (the same rule as SotW).
    /// </summary>
    public static ResponsePlan? PlanDelta(Subscription sub, ResourceSet set, IReadOnlyDictionary<string, Subscription> stream, bool ads)
    {
        var typeUrl = sub.TypeUrl;
        var available = set.Resources;
        var plan = new DeltaPlan(sub, available,
            holdsForOthers: ads && typeUrl is TypeUrls.Listener or TypeUrls.Route,
            inUse: ads && typeUrl == TypeUrls.Cluster ? new MakeBeforeBreak.InUse(stream) : null);
        if (sub.Force.Count == 0 && !sub.PendingInitial && sub.Claimed is null && sub.ChangesFrom is { } from
            && TryGetChanges(from, set, out var changed, out var removed))
        {
            plan.ApplyChanges(changed, removed);
        }
        else
        {
            plan.Compare();
        }
        sub.ChangesFrom = available;
        sub.Force.Clear();
        if (plan.Send.Count == 0 && plan.Removed.Count == 0 && !sub.PendingInitial)
        {
            return null;
        }
        sub.PendingInitial = false;
        plan.Removed.Sort(StringComparer.Ordinal);
        return new ResponsePlan(typeUrl, set.Version, plan.Send, plan.Removed);
    }

    /// <summary>
    /// Delta: an ACK that changes no subscription still makes a plan due while clusters are held for make before
    /// break: it may be the listeners' or routes' ACK that releases them.
    /// </summary>
    public static bool AckMayReleaseClusters(RequestOutcome outcome, IReadOnlyDictionary<string, Subscription> stream) =>
        outcome == RequestOutcome.Ack && stream.TryGetValue(TypeUrls.Cluster, out var clusters) && clusters.Retained.Count > 0;

    private static bool TryGetChanges(IReadOnlyDictionary<string, EnvoyResource> from, ResourceSet set,
        out IReadOnlyList<EnvoyResource> changed, out IReadOnlyList<string> removed)
    {
        if (ReferenceEquals(from, set.Resources))
        {
            changed = [];
            removed = [];
            return true;
        }
        return set.TryGetChangedSince(from, out changed, out removed);
    }

    /// <summary>One delta plan being made: what to send and remove, and the subscription's record of it.</summary>
    private sealed class DeltaPlan(Subscription sub, IReadOnlyDictionary<string, EnvoyResource> available, bool holdsForOthers,
        MakeBeforeBreak.InUse? inUse)
    {
        public List<EnvoyResource> Send { get; } = [];

        public List<string> Removed { get; } = [];

        /// <summary>
        /// O(changes): the client's state was settled against the set this one was derived from, so it lacks exactly
        /// the wanted resources that changed, and holds exactly the removed ones it was sent.
        /// </summary>
        public void ApplyChanges(IReadOnlyList<EnvoyResource> changed, IReadOnlyList<string> removed)
        {
            foreach (var resource in changed)
            {
                if (sub.Wants(resource.Name, available))
                {
                    Consider(resource);
                }
            }
            foreach (var name in removed)
            {
                if (sub.TryGetHeldVersion(name, out var held) && held is not null)
                {
                    RemoveOrRetain(name);
                }
            }
            if (sub.Retained.Count > 0)
            {
                // Held for make before break: removed once nothing the client holds uses them.
                foreach (var name in sub.Retained.ToList())
                {
                    RemoveOrRetain(name);
                }
            }
        }

        /// <summary>Every wanted resource and every name the client holds, compared once.</summary>
        public void Compare()
        {
            if (sub.Wildcard)
            {
                foreach (var (_, resource) in available)
                {
                    Consider(resource);
                }
            }
            foreach (var name in sub.Names)
            {
                if (available.TryGetValue(name, out var resource))
                {
                    if (!sub.Wildcard)
                    {
                        Consider(resource);
                    }
                }
                else if (!sub.TryGetHeldVersion(name, out var held) || held is not null)
                {
                    // Subscribed but does not exist (any more): say so; the subscription stays.
                    RemoveOrRetain(name);
                }
                else if (sub.Force.Contains(name))
                {
                    // Subscribed again: answered again.
                    Removed.Add(name);
                    sub.HoldAbsent(name);
                }
            }
            foreach (var name in sub.HeldNames())
            {
                if (sub.Wants(name, available))
                {
                    continue;
                }
                if (!available.ContainsKey(name) && sub.TryGetHeldVersion(name, out var held) && held is not null)
                {
                    RemoveOrRetain(name);
                }
                else
                {
                    Forgotten(sub.Forget(name));
                }
            }
            if (sub.Claimed is { } claimed)
            {
                // What a reconnecting client holds and is still current: held as this set's resources, not re-sent.
                sub.SettleClaims();
                foreach (var (name, version) in claimed)
                {
                    if (available.TryGetValue(name, out var resource) && resource.Version == version && sub.Wants(name, available)
                        && !sub.Held.ContainsKey(name) && !sub.ToldAbsent.Contains(name))
                    {
                        sub.Hold(resource);
                    }
                }
            }
        }

        private void Consider(EnvoyResource resource)
        {
            if (sub.Force.Contains(resource.Name) || !sub.TryGetHeldVersion(resource.Name, out var held) || held != resource.Version)
            {
                Send.Add(resource);
                Forgotten(sub.Hold(resource));
            }
        }

        /// <summary>A name the client holds that is not served: removed, or kept while held listeners or routes use it.</summary>
        private void RemoveOrRetain(string name)
        {
            if (inUse is not null && sub.Held.ContainsKey(name) && inUse.Contains(name))
            {
                sub.Retain(name);
                return;
            }
            Removed.Add(name);
            Forgotten(sub.Names.Contains(name) ? sub.HoldAbsent(name) : sub.Forget(name));
        }

        private void Forgotten(EnvoyResource? old)
        {
            if (old is not null && holdsForOthers)
            {
                sub.NoteReplaced(old);
            }
        }
    }

    /// <summary>True when the named subscription covers every resource of the set (Envoy's EDS for all its clusters).</summary>
    private static bool SubscribesToAll(HashSet<string> names, System.Collections.Immutable.ImmutableSortedDictionary<string, EnvoyResource> available)
    {
        if (names.Count < available.Count || available.Count == 0)
        {
            return false;
        }
        foreach (var name in available.Keys)
        {
            if (!names.Contains(name))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The immutable snapshot set is shared as is; a per-stream subset is copied once.</summary>
    private static IReadOnlyDictionary<string, EnvoyResource> Hold(IReadOnlyDictionary<string, EnvoyResource> desired) =>
        desired is System.Collections.Immutable.ImmutableSortedDictionary<string, EnvoyResource> shared
            ? shared
            : new Dictionary<string, EnvoyResource>(desired, StringComparer.Ordinal);

    /// <summary>
    /// The version of a per-stream set (a named subscription, or with clusters retained): the same order-independent
    /// digest as a whole set's own version, over these resources. Content hashes throughout, so a restarted server or
    /// another replica computes the same string for the same content.
    /// </summary>
    private static string VersionOf(IReadOnlyDictionary<string, EnvoyResource> desired)
    {
        // Runs per push for every stream with a partial subscription: each resource's digest is computed once, when it is made.
        UInt128 digest = 0;
        foreach (var resource in desired.Values)
        {
            digest += resource.EntryDigest;
        }
        return ContentHash.FormatDigest(digest);
    }

    /// <summary>
    /// After clusters are sent, the endpoints of those that changed must be answered on the next EDS request even if
    /// unchanged: Envoy warms a changed cluster and waits for its endpoints (XDS-PROTOCOL.md 12).
    /// </summary>
    private static void NoteClusterChanges(IReadOnlyDictionary<string, EnvoyResource> previous, List<EnvoyResource> sent,
        IReadOnlyDictionary<string, Subscription> stream, bool ads, ref List<string>? changedEds)
    {
        List<string>? names = null;
        foreach (var cluster in sent)
        {
            if (previous.TryGetValue(cluster.Name, out var old) && old.Version == cluster.Version)
            {
                continue;
            }
            if (ResourceReferences.Of(cluster).EdsServiceName is { } edsName)
            {
                (names ??= []).Add(edsName);
            }
        }
        if (names is null || previous.Count == 0)
        {
            // Initial cluster fetch: EDS will be requested fresh anyway.
            return;
        }
        if (stream.TryGetValue(TypeUrls.Endpoint, out var eds) && eds.Requested)
        {
            eds.ForceOnNextRequest.UnionWith(names);
        }
        if (!ads)
        {
            (changedEds ??= []).AddRange(names);
        }
    }
}
