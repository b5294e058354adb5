using Envoy.Service.Discovery.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Internal;

namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// A state-of-the-world stream (ADS or one per-type service). Per type it remembers the subscription and
/// which resource (a shared reference, never a copy) it last sent, so it can send only what changed, never
/// re-send a NACKed version, and hold removed clusters until the listeners that used them are updated.
/// </summary>
internal sealed class SotwStream(XdsEngine engine, long id, string kind, string? fixedType)
    : XdsStream(engine, id, kind, fixedType)
{
    private static readonly IReadOnlyDictionary<string, EnvoyResource> NoResources = new Dictionary<string, EnvoyResource>(StringComparer.Ordinal);

    private readonly Dictionary<string, TypeState> _types = new(StringComparer.Ordinal);

    public override bool IsDelta => false;

    private sealed class TypeState(string typeUrl)
    {
        public readonly string TypeUrl = typeUrl;
        public readonly TypeTracker Tracker = new(typeUrl);
        public bool Requested;
        public bool PendingInitial;
        public string ClientVersionInfo = "";
        public bool Wildcard;
        public bool LegacyWildcard;
        public HashSet<string> Names = new(StringComparer.Ordinal);

        /// <summary>The UTF-8 bytes of <see cref="Names"/>, against the per-type limit.</summary>
        public long NameBytes;

        /// <summary>What the client holds after the last response (replaced, never mutated: ACK keeps a reference).</summary>
        public IReadOnlyDictionary<string, EnvoyResource> Sent
        {
            get => _sent;
            set => _sent = ChangesFrom = value;
        }

        private IReadOnlyDictionary<string, EnvoyResource> _sent = NoResources;

        /// <summary>
        /// What the next set's changes are taken from: <see cref="Sent"/>, or a later snapshot set that differs from
        /// it by removals only. SotW does not signal those for these types, so the client keeps what was removed and
        /// Sent says so (make before break reads it); the later set lets the next change be found in O(changes).
        /// </summary>
        public IReadOnlyDictionary<string, EnvoyResource> ChangesFrom = NoResources;

        /// <summary>What the client last ACKed.</summary>
        public IReadOnlyDictionary<string, EnvoyResource> AckedSent = NoResources;

        /// <summary>Names to send in the next response even if unchanged.</summary>
        public readonly HashSet<string> Force = new(StringComparer.Ordinal);

        /// <summary>EDS names whose cluster changed: answered on the next EDS request (the cluster is warming).</summary>
        public readonly HashSet<string> ForceOnNextRequest = new(StringComparer.Ordinal);
    }

    public Task RunAsync(IAsyncStreamReader<DiscoveryRequest> requests, IServerStreamWriter<DiscoveryResponse> responses, ServerCallContext context) =>
        RunAsync(requests, responses, context, r => r.Node, Apply, Compute);

    public override void OnClustersChanged(IReadOnlyCollection<string> edsNames)
    {
        lock (Gate)
        {
            if (_types.TryGetValue(TypeUrls.Endpoint, out var eds) && eds.Requested)
            {
                eds.ForceOnNextRequest.UnionWith(edsNames);
            }
        }
    }

    /// <summary>Applies one request (lock held). Returns whether the writer should look again.</summary>
    private bool Apply(DiscoveryRequest request)
    {
        var typeUrl = ResolveType(request.TypeUrl);
        if (typeUrl is null)
        {
            return false;
        }
        CheckCount(request.ResourceNames.Count, "resource_names");
        if (!_types.TryGetValue(typeUrl, out var st))
        {
            st = new TypeState(typeUrl);
            _types[typeUrl] = st;
        }
        if (!st.Requested)
        {
            // The first request for this type on this stream. A nonce in it can only come from an earlier
            // stream: it is not current, so this is not an ACK, just a (re)subscription.
            st.Requested = true;
            st.PendingInitial = true;
            st.ClientVersionInfo = request.VersionInfo;
            UpdateSubscription(st, request, first: true);
            return true;
        }
        var tracker = st.Tracker;
        if (request.ResponseNonce != (tracker.NonceSent ?? ""))
        {
            Engine.Metrics.StaleNonce();
            XdsLog.StaleNonce(Engine.Logger, Node.Id, typeUrl, Truncate(request.ResponseNonce, 100));
            return false;
        }
        var now = Engine.Time.GetUtcNow();
        if (tracker.NonceSent is not null)
        {
            if (request.ErrorDetail is { } error)
            {
                var message = ErrorMessage(error);
                Engine.Metrics.Nacked(typeUrl);
                if (tracker.Nack(tracker.VersionSent ?? "", tracker.NonceSent, message, now))
                {
                    XdsLog.Nack(Engine.Logger, Node.Id, typeUrl, tracker.VersionSent ?? "", tracker.NonceSent, message);
                }
            }
            else
            {
                Engine.Metrics.Acked(typeUrl);
                tracker.Ack(request.VersionInfo, latest: request.VersionInfo == tracker.VersionSent, now);
                if (request.VersionInfo == tracker.VersionSent)
                {
                    st.AckedSent = st.Sent;
                }
            }
        }
        st.Force.UnionWith(UpdateSubscription(st, request, first: false));
        if (st.ForceOnNextRequest.Count > 0)
        {
            st.Force.UnionWith(st.ForceOnNextRequest);
            st.ForceOnNextRequest.Clear();
        }
        st.Force.IntersectWith(st.Names);
        return true;
    }

    /// <summary>Applies the names of a request; returns the names newly subscribed.</summary>
    private List<string> UpdateSubscription(TypeState st, DiscoveryRequest request, bool first)
    {
        var added = new List<string>();
        if (request.ResourceNames.Count == 0)
        {
            // Empty first request: (legacy) wildcard. Once names were sent, empty means "none".
            if (first)
            {
                st.Wildcard = true;
                st.LegacyWildcard = true;
            }
            else if (!st.LegacyWildcard)
            {
                st.Wildcard = false;
            }
            st.Names.Clear();
            st.NameBytes = 0;
            return added;
        }
        st.LegacyWildcard = false;
        if (NamesHeld(st.Names, request.ResourceNames))
        {
            // The usual request (every ACK): the names held, again. The set is kept, not rebuilt.
            CheckSubscribed(st.Names.Count);
            st.Wildcard = false;
            return added;
        }
        var wildcard = false;
        var names = new HashSet<string>(request.ResourceNames.Count, StringComparer.Ordinal);
        // Keep the snapshot's own name strings, not the request's: a thousand streams subscribed to the
        // same 3,000 endpoints then share one copy of the names instead of holding 3,000 strings each. A name
        // already held is that string already (or one not in the snapshot), found in constant time.
        var known = Engine.Cache.Current.Snapshot.Get(st.TypeUrl).Resources;
        foreach (var requested in request.ResourceNames)
        {
            if (st.Names.TryGetValue(requested, out var held))
            {
                names.Add(held);
                continue;
            }
            var name = known.TryGetKey(requested, out var shared) ? shared : requested;
            if (name == "*")
            {
                wildcard = true;
            }
            else if (names.Add(name))
            {
                added.Add(name);
            }
        }
        CheckSubscribed(names.Count);
        long bytes = 0;
        foreach (var name in names)
        {
            bytes += NameBytes(name);
        }
        CheckSubscribedBytes(bytes);
        st.Wildcard = wildcard;
        st.Names = names;
        st.NameBytes = bytes;
        return added;
    }

    /// <summary>
    /// True when <paramref name="requested"/> names exactly the set held. Equal counts with every name held prove
    /// it only without repeats, which names in strictly ascending order (as Envoy sends them) rule out; other
    /// orders answer false, and the caller rebuilds the set.
    /// </summary>
    private static bool NamesHeld(HashSet<string> held, Google.Protobuf.Collections.RepeatedField<string> requested)
    {
        if (requested.Count != held.Count)
        {
            return false;
        }
        string? previous = null;
        foreach (var name in requested)
        {
            // "*" is never held: a wildcard request is never taken for the names held.
            if ((previous is not null && string.CompareOrdinal(previous, name) >= 0) || !held.Contains(name))
            {
                return false;
            }
            previous = name;
        }
        return true;
    }

    /// <summary>Computes every response due now, in push order (lock held), and records them as sent.</summary>
    private List<(string, DiscoveryResponse)> Compute(CurrentSnapshot current)
    {
        var batch = new List<(string, DiscoveryResponse)>();
        List<string>? changedEds = null;
        foreach (var typeUrl in IsAds ? TypeUrls.PushOrder : [FixedType!])
        {
            if (_types.TryGetValue(typeUrl, out var st) && st.Requested
                && ComputeType(st, typeUrl, current.Snapshot, ref changedEds) is { } response)
            {
                batch.Add((typeUrl, response));
            }
        }
        if (changedEds is { Count: > 0 })
        {
            // Cluster updates on a per-type CDS stream: the node's EDS stream must answer its next request.
            var names = changedEds;
            _ = Task.Run(() => Engine.ClustersChanged(this, names));
        }
        return batch;
    }

    private DiscoveryResponse? ComputeType(TypeState st, string typeUrl, Snapshot snapshot, ref List<string>? changedEds)
    {
        var set = snapshot.Get(typeUrl);
        var available = set.Resources;
        // A wildcard stream wants the snapshot's set as it is: hold a reference to that immutable set (no
        // per-stream copy) and use its precomputed version (no per-stream re-hashing of every resource).
        IReadOnlyDictionary<string, EnvoyResource> desired = available;
        if (!st.Wildcard && !SubscribesToAll(st.Names, available))
        {
            var subset = new SortedDictionary<string, EnvoyResource>(StringComparer.Ordinal);
            foreach (var name in st.Names)
            {
                if (available.TryGetValue(name, out var resource))
                {
                    subset[name] = resource;
                }
            }
            desired = subset;
        }
        if (IsAds && typeUrl == TypeUrls.Cluster)
        {
            desired = WithRetainedClusters(st, desired);
        }
        var version = ReferenceEquals(desired, available) ? set.Version : VersionOf(desired);
        var now = Engine.Time.GetUtcNow();

        if (st.PendingInitial && st.ClientVersionInfo.Length > 0 && st.ClientVersionInfo == version && st.Force.Count == 0)
        {
            // A reconnecting client already holds exactly this (versions are content hashes).
            st.PendingInitial = false;
            st.Sent = Hold(desired);
            st.AckedSent = st.Sent;
            st.Tracker.AlreadyHeld(version, now);
            return null;
        }

        List<EnvoyResource> toSend;
        if (TypeUrls.IsFullState(typeUrl))
        {
            var due = st.PendingInitial || version != st.Tracker.VersionSent || st.Force.Overlaps(desired.Keys);
            if (!due)
            {
                st.Force.Clear();
                return null;
            }
            toSend = [.. desired.Values];
        }
        else if (st.Force.Count == 0 && !st.PendingInitial && ReferenceEquals(desired, available) && ChangedSinceHeld(st, set) is { } changed)
        {
            // The stream holds the whole previous set (or this one): what changed is known once for every stream,
            // not found by comparing thousands of resources per stream.
            if (changed.Count == 0)
            {
                // Nothing, or only removals: SotW never signals those for these types. The next change is taken
                // from this set, or every stream would fall back to the comparison below.
                st.ChangesFrom = available;
                return null;
            }
            toSend = changed;
        }
        else
        {
            toSend = [];
            foreach (var (name, resource) in desired)
            {
                if (st.Force.Contains(name) || !st.Sent.TryGetValue(name, out var held) || held.Version != resource.Version)
                {
                    toSend.Add(resource);
                }
            }
            if (toSend.Count == 0 && !(st.PendingInitial && st.Wildcard))
            {
                // Nothing new; names requested but missing stay subscribed and are pushed when they appear.
                st.Force.RemoveWhere(desired.ContainsKey);
                if (desired.Count == st.Sent.Count && ReferenceEquals(desired, available))
                {
                    // The client holds exactly this set's content: hold this set itself, so the next change
                    // finds its delta in O(changes) (TryGetChangedSince) instead of this comparison.
                    var acked = ReferenceEquals(st.AckedSent, st.Sent);
                    st.Sent = available;
                    st.AckedSent = acked ? available : st.AckedSent;
                }
                return null;
            }
        }

        var previous = st.Sent;
        st.Sent = Hold(desired);
        st.Force.RemoveWhere(desired.ContainsKey);
        st.PendingInitial = false;
        var nonce = Nonces.Next();
        st.Tracker.Sent(version, nonce, now);

        if (typeUrl == TypeUrls.Cluster)
        {
            NoteClusterChanges(previous, toSend, ref changedEds);
        }
        else if (typeUrl == TypeUrls.Endpoint)
        {
            foreach (var resource in toSend)
            {
                st.ForceOnNextRequest.Remove(resource.Name);
            }
        }

        var response = new DiscoveryResponse { TypeUrl = typeUrl, VersionInfo = version, Nonce = nonce };
        foreach (var resource in toSend)
        {
            response.Resources.Add(resource.AsAny());
        }
        XdsLog.Pushed(Engine.Logger, typeUrl, version, nonce, toSend.Count, 0, Node.Id);
        return response;
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
    /// What the client lacks of <paramref name="set"/>: empty when nothing changed since the set its changes are taken
    /// from; null when the set was not derived from that one (then every resource is compared).
    /// </summary>
    private static List<EnvoyResource>? ChangedSinceHeld(TypeState st, ResourceSet set)
    {
        if (ReferenceEquals(st.ChangesFrom, set.Resources))
        {
            return [];
        }
        if (!set.TryGetChangedSince(st.ChangesFrom, out var changed))
        {
            return null;
        }
        if (ReferenceEquals(st.ChangesFrom, st.Sent))
        {
            return [.. changed];
        }
        // After removals not sent, a resource removed and now back unchanged is still held: not sent again, as the
        // comparison would find.
        var lacking = new List<EnvoyResource>(changed.Count);
        foreach (var resource in changed)
        {
            if (!st.Sent.TryGetValue(resource.Name, out var held) || held.Version != resource.Version)
            {
                lacking.Add(resource);
            }
        }
        return lacking;
    }

    /// <summary>
    /// The version of a per-stream set (a named subscription, or with clusters retained): the same
    /// order-independent digest as a whole set's own version, over these resources. Content hashes throughout,
    /// so a restarted server or another replica computes the same string for the same content.
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
    /// Make before break: a cluster gone from the snapshot is still sent while a listener or route the
    /// client holds (sent or ACKed) uses it; it goes in the CDS response after those were updated and ACKed.
    /// Returns <paramref name="desired"/> itself when nothing is retained.
    /// </summary>
    private IReadOnlyDictionary<string, EnvoyResource> WithRetainedClusters(TypeState cds, IReadOnlyDictionary<string, EnvoyResource> desired)
    {
        if (cds.Sent.Count == 0 || ReferenceEquals(cds.Sent, desired))
        {
            return desired;
        }
        // A subset made for this push is ours to add to; the snapshot's shared set is copied, on the first retained cluster only.
        SortedDictionary<string, EnvoyResource>? withRetained = null;
        foreach (var holderType in (ReadOnlySpan<string>)[TypeUrls.Listener, TypeUrls.Route])
        {
            if (!_types.TryGetValue(holderType, out var holder))
            {
                continue;
            }
            foreach (var held in ReferenceEquals(holder.Sent, holder.AckedSent) ? holder.Sent.Values : holder.Sent.Values.Concat(holder.AckedSent.Values))
            {
                foreach (var clusterName in ResourceReferences.Of(held).Clusters)
                {
                    if (!desired.ContainsKey(clusterName) && cds.Sent.TryGetValue(clusterName, out var old))
                    {
                        withRetained ??= desired as SortedDictionary<string, EnvoyResource> ?? Copy(desired);
                        withRetained[old.Name] = old;
                    }
                }
            }
        }
        return withRetained ?? desired;

        static SortedDictionary<string, EnvoyResource> Copy(IReadOnlyDictionary<string, EnvoyResource> shared)
        {
            var copy = new SortedDictionary<string, EnvoyResource>(StringComparer.Ordinal);
            foreach (var (name, resource) in shared)
            {
                copy.Add(name, resource);
            }
            return copy;
        }
    }

    private void NoteClusterChanges(IReadOnlyDictionary<string, EnvoyResource> previous, List<EnvoyResource> sent, ref List<string>? changedEds)
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
        if (_types.TryGetValue(TypeUrls.Endpoint, out var eds) && eds.Requested)
        {
            eds.ForceOnNextRequest.UnionWith(names);
        }
        if (!IsAds)
        {
            (changedEds ??= []).AddRange(names);
        }
    }

    protected override IReadOnlyList<XdsTypeStatus> TypeStatuses() =>
        [.. _types.Values.Where(t => t.Requested).Select(t => t.Tracker.ToStatus(t.Wildcard, t.Names.Count,
            [.. t.Sent.Values.Select(r => KeyValuePair.Create(r.Name, r.Version))]))];
}
