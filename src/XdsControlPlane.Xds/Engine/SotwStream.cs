using Envoy.Service.Discovery.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Internal;
using XdsControlPlane.Xds.Planning;

namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// A state-of-the-world stream (ADS or one per-type service): reads requests into its per-type
/// <see cref="Subscription"/>s, asks <see cref="ResponsePlanner"/> what is due, and writes it with a fresh nonce.
/// What to send is decided there, not here.
/// </summary>
internal sealed class SotwStream(XdsEngine engine, long id, string kind, string? fixedType)
    : XdsStream(engine, id, kind, fixedType)
{
    private readonly Dictionary<string, Subscription> _types = new(StringComparer.Ordinal);

    public override bool IsDelta => false;

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
        if (!_types.TryGetValue(typeUrl, out var sub))
        {
            sub = new Subscription(typeUrl);
            _types[typeUrl] = sub;
        }
        var nack = request.ErrorDetail is { } error ? ErrorMessage(error) : null;
        var sentVersion = sub.Tracker.VersionSent ?? "";
        var sentNonce = sub.Tracker.NonceSent ?? "";
        var outcome = sub.ApplySotw(request.ResourceNames, request.VersionInfo, request.ResponseNonce, nack,
            Engine.Cache.Current.Snapshot.Get(typeUrl).Resources, Engine.Time.GetUtcNow());
        switch (outcome)
        {
            case RequestOutcome.Stale:
                Engine.Metrics.StaleNonce();
                XdsLog.StaleNonce(Engine.Logger, Node.Id, typeUrl, Truncate(request.ResponseNonce, 100));
                return false;
            case RequestOutcome.Ack:
                Engine.Metrics.Acked(typeUrl);
                break;
            case RequestOutcome.Nack or RequestOutcome.RepeatedNack:
                Engine.Metrics.Nacked(typeUrl);
                if (outcome == RequestOutcome.Nack)
                {
                    XdsLog.Nack(Engine.Logger, Node.Id, typeUrl, sentVersion, sentNonce, nack!);
                }
                break;
        }
        CheckSubscribed(sub.Names.Count);
        CheckSubscribedBytes(sub.NameBytes);
        return true;
    }

    /// <summary>Computes every response due now, in push order (lock held), and records them as sent.</summary>
    private List<(string, DiscoveryResponse)> Compute(CurrentSnapshot current)
    {
        var batch = new List<(string, DiscoveryResponse)>();
        List<string>? changedEds = null;
        var now = Engine.Time.GetUtcNow();
        foreach (var typeUrl in IsAds ? TypeUrls.PushOrder : [FixedType!])
        {
            if (!_types.TryGetValue(typeUrl, out var sub) || !sub.Requested
                || ResponsePlanner.PlanSotw(sub, current.Snapshot.Get(typeUrl), _types, IsAds, now, ref changedEds) is not { } plan)
            {
                continue;
            }
            var nonce = Nonces.Next();
            sub.Sent(plan, nonce, now);
            var response = new DiscoveryResponse { TypeUrl = typeUrl, VersionInfo = plan.Version, Nonce = nonce };
            foreach (var resource in plan.Resources)
            {
                response.Resources.Add(resource.AsAny());
            }
            XdsLog.Pushed(Engine.Logger, typeUrl, plan.Version, nonce, plan.Resources.Count, 0, Node.Id);
            batch.Add((typeUrl, response));
        }
        if (changedEds is { Count: > 0 })
        {
            // Cluster updates on a per-type CDS stream: the node's EDS stream must answer its next request.
            var names = changedEds;
            _ = Task.Run(() => Engine.ClustersChanged(this, names));
        }
        return batch;
    }

    protected override IReadOnlyList<XdsTypeStatus> TypeStatuses() =>
        [.. _types.Values.Where(t => t.Requested).Select(t => t.ToStatus())];
}
