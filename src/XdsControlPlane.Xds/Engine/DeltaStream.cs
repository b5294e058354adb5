using Envoy.Service.Discovery.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Internal;

namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// An incremental (delta) stream. Per type it keeps the subscription and the version of each resource the
/// client holds (a name → version map of shared strings), and sends only what differs: changed resources
/// in <c>resources</c>, deleted or non-existent subscribed names in <c>removed_resources</c>.
/// </summary>
internal sealed class DeltaStream(XdsEngine engine, long id, string kind, string? fixedType)
    : XdsStream(engine, id, kind, fixedType)
{
    /// <summary>How many responses per type may await an ACK and still be matched to their version.</summary>
    private const int InFlightNonces = 16;

    private readonly Dictionary<string, TypeState> _types = new(StringComparer.Ordinal);

    public override bool IsDelta => true;

    private sealed class TypeState(string typeUrl)
    {
        public readonly TypeTracker Tracker = new(typeUrl);
        public bool Requested;
        public bool PendingInitial;
        public bool Wildcard;
        public readonly HashSet<string> Names = new(StringComparer.Ordinal);

        /// <summary>The UTF-8 bytes of <see cref="Names"/>, against the per-type limit.</summary>
        public long NameBytes;

        /// <summary>What the client holds: name → version, or null for "told it does not exist".</summary>
        public readonly Dictionary<string, string?> ClientHas = new(StringComparer.Ordinal);

        /// <summary>Names to answer in the next response, whatever the client is believed to hold.</summary>
        public readonly HashSet<string> Force = new(StringComparer.Ordinal);

        /// <summary>Recent nonces and the version each carried, oldest first.</summary>
        public readonly List<(string Nonce, string Version)> InFlight = [];
    }

    public Task RunAsync(IAsyncStreamReader<DeltaDiscoveryRequest> requests, IServerStreamWriter<DeltaDiscoveryResponse> responses, ServerCallContext context) =>
        RunAsync(requests, responses, context, r => r.Node, Apply, Compute);

    private bool Apply(DeltaDiscoveryRequest request)
    {
        var typeUrl = ResolveType(request.TypeUrl);
        if (typeUrl is null)
        {
            return false;
        }
        CheckCount(request.ResourceNamesSubscribe.Count, "resource_names_subscribe");
        CheckCount(request.ResourceNamesUnsubscribe.Count, "resource_names_unsubscribe");
        CheckCount(request.InitialResourceVersions.Count, "initial_resource_versions");
        if (!_types.TryGetValue(typeUrl, out var st))
        {
            st = new TypeState(typeUrl);
            _types[typeUrl] = st;
        }
        var wake = false;
        if (!st.Requested)
        {
            st.Requested = true;
            wake = true;
            foreach (var (name, version) in request.InitialResourceVersions)
            {
                st.ClientHas[name] = version;
            }
            // A fresh client must get an answer (even an empty one) to finish its initial fetch; a reconnecting
            // one (initial_resource_versions) gets only what differs from what it holds.
            st.PendingInitial = request.InitialResourceVersions.Count == 0;
            if (request.ResourceNamesSubscribe.Count == 0)
            {
                st.Wildcard = true;
            }
        }
        else
        {
            // Subscription changes below apply whatever the nonce; the nonce only decides ACK/NACK bookkeeping.
            RecordAckOrNack(st, typeUrl, request);
        }
        foreach (var name in request.ResourceNamesSubscribe)
        {
            if (name == "*")
            {
                st.Wildcard = true;
                wake = true;
                continue;
            }
            if (st.Names.Add(name))
            {
                st.NameBytes += NameBytes(name);
            }
            if (!request.InitialResourceVersions.ContainsKey(name))
            {
                st.Force.Add(name);
            }
            wake = true;
        }
        foreach (var name in request.ResourceNamesUnsubscribe)
        {
            if (name == "*")
            {
                st.Wildcard = false;
                wake = true;
                continue;
            }
            if (st.Names.Remove(name))
            {
                st.NameBytes -= NameBytes(name);
            }
            st.Force.Remove(name);
            if (st.Wildcard)
            {
                // Still covered by the wildcard: the client may have dropped it, so it is answered again.
                st.Force.Add(name);
                wake = true;
            }
        }
        CheckSubscribed(st.Names.Count);
        CheckSubscribed(st.ClientHas.Count);
        CheckSubscribedBytes(st.NameBytes);
        return wake;
    }

    private void RecordAckOrNack(TypeState st, string typeUrl, DeltaDiscoveryRequest request)
    {
        var index = st.InFlight.FindIndex(f => f.Nonce == request.ResponseNonce);
        if (index < 0)
        {
            if (request.ResponseNonce.Length > 0)
            {
                Engine.Metrics.StaleNonce();
                XdsLog.StaleNonce(Engine.Logger, Node.Id, typeUrl, Truncate(request.ResponseNonce, 100));
            }
            return;
        }
        var (nonce, version) = st.InFlight[index];
        st.InFlight.RemoveRange(0, index + 1);
        var now = Engine.Time.GetUtcNow();
        var latest = nonce == st.Tracker.NonceSent;
        if (request.ErrorDetail is { } error)
        {
            // Recorded; not re-sent: the client is believed to hold what was sent, so only a change sends again.
            var message = ErrorMessage(error);
            Engine.Metrics.Nacked(typeUrl);
            if (st.Tracker.Nack(version, nonce, message, now))
            {
                XdsLog.Nack(Engine.Logger, Node.Id, typeUrl, version, nonce, message);
            }
        }
        else
        {
            Engine.Metrics.Acked(typeUrl);
            st.Tracker.Ack(version, latest, now);
        }
    }

    private List<(string, DeltaDiscoveryResponse)> Compute(CurrentSnapshot current)
    {
        var batch = new List<(string, DeltaDiscoveryResponse)>();
        foreach (var typeUrl in IsAds ? TypeUrls.PushOrder : [FixedType!])
        {
            if (_types.TryGetValue(typeUrl, out var st) && st.Requested && ComputeType(st, typeUrl, current.Snapshot) is { } response)
            {
                batch.Add((typeUrl, response));
            }
        }
        return batch;
    }

    private DeltaDiscoveryResponse? ComputeType(TypeState st, string typeUrl, Snapshot snapshot)
    {
        var set = snapshot.Get(typeUrl);
        var available = set.Resources;
        var send = new List<EnvoyResource>();
        var removed = new List<string>();

        void Consider(string name, EnvoyResource resource)
        {
            if (st.Force.Contains(name) || !st.ClientHas.TryGetValue(name, out var held) || held != resource.Version)
            {
                send.Add(resource);
                st.ClientHas[name] = resource.Version;
            }
        }

        if (st.Wildcard)
        {
            foreach (var (name, resource) in available)
            {
                Consider(name, resource);
            }
        }
        foreach (var name in st.Names)
        {
            if (available.TryGetValue(name, out var resource))
            {
                if (!st.Wildcard)
                {
                    Consider(name, resource);
                }
            }
            else if (st.Force.Contains(name) || !st.ClientHas.TryGetValue(name, out var held) || held is not null)
            {
                // Subscribed but does not exist (any more): say so; the subscription stays.
                removed.Add(name);
                st.ClientHas[name] = null;
            }
        }
        List<string>? forget = null;
        foreach (var (name, held) in st.ClientHas)
        {
            var desired = st.Names.Contains(name) || (st.Wildcard && available.ContainsKey(name));
            if (desired)
            {
                continue;
            }
            if (held is not null && !available.ContainsKey(name))
            {
                removed.Add(name);
            }
            (forget ??= []).Add(name);
        }
        if (forget is not null)
        {
            foreach (var name in forget)
            {
                st.ClientHas.Remove(name);
            }
        }
        st.Force.Clear();
        if (send.Count == 0 && removed.Count == 0 && !st.PendingInitial)
        {
            return null;
        }
        st.PendingInitial = false;
        var nonce = Nonces.Next();
        var now = Engine.Time.GetUtcNow();
        st.Tracker.Sent(set.Version, nonce, now);
        st.InFlight.Add((nonce, set.Version));
        if (st.InFlight.Count > InFlightNonces)
        {
            st.InFlight.RemoveAt(0);
        }
        var response = new DeltaDiscoveryResponse { TypeUrl = typeUrl, SystemVersionInfo = set.Version, Nonce = nonce };
        foreach (var resource in send)
        {
            response.Resources.Add(new Resource { Name = resource.Name, Version = resource.Version, Resource_ = resource.AsAny() });
        }
        removed.Sort(StringComparer.Ordinal);
        response.RemovedResources.Add(removed);
        XdsLog.Pushed(Engine.Logger, typeUrl, set.Version, nonce, send.Count, removed.Count, Node.Id);
        return response;
    }

    protected override IReadOnlyList<XdsTypeStatus> TypeStatuses() =>
        [.. _types.Values.Where(t => t.Requested).Select(t => t.Tracker.ToStatus(t.Wildcard, t.Names.Count,
            [.. t.ClientHas.Where(kv => kv.Value is not null).Select(kv => KeyValuePair.Create(kv.Key, kv.Value!))]))];
}
