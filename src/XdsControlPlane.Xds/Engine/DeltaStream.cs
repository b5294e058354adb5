using Envoy.Service.Discovery.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Internal;
using XdsControlPlane.Xds.Planning;

namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// An incremental (delta) stream: reads requests into its per-type <see cref="Subscription"/>s, asks
/// <see cref="ResponsePlanner"/> for the upserts and removals due, and writes them with a fresh nonce.
/// </summary>
internal sealed class DeltaStream(XdsEngine engine, long id, string kind, string? fixedType)
    : XdsStream(engine, id, kind, fixedType)
{
    private readonly Dictionary<string, Subscription> _types = new(StringComparer.Ordinal);

    public override bool IsDelta => true;

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
        if (!_types.TryGetValue(typeUrl, out var sub))
        {
            sub = new Subscription(typeUrl);
            _types[typeUrl] = sub;
        }
        var nack = request.ErrorDetail is { } error ? ErrorMessage(error) : null;
        var outcome = sub.ApplyDelta(request.ResourceNamesSubscribe, request.ResourceNamesUnsubscribe, request.InitialResourceVersions,
            request.ResponseNonce, nack, Engine.Time.GetUtcNow(), out var wake);
        switch (outcome)
        {
            case RequestOutcome.Stale:
                Engine.Metrics.StaleNonce();
                XdsLog.StaleNonce(Engine.Logger, Node.Id, typeUrl, Truncate(request.ResponseNonce, 100));
                break;
            case RequestOutcome.Ack:
                Engine.Metrics.Acked(typeUrl);
                break;
            case RequestOutcome.Nack or RequestOutcome.RepeatedNack:
                Engine.Metrics.Nacked(typeUrl);
                if (outcome == RequestOutcome.Nack && sub.Tracker.LastNack is { } last)
                {
                    XdsLog.Nack(Engine.Logger, Node.Id, typeUrl, last.Version, last.Nonce, last.Message);
                }
                break;
        }
        CheckSubscribed(sub.Names.Count);
        CheckSubscribed(sub.HeldCount);
        CheckSubscribedBytes(sub.NameBytes);
        return wake || ResponsePlanner.AckMayReleaseClusters(outcome, _types);
    }

    private List<(string, DeltaDiscoveryResponse)> Compute(CurrentSnapshot current)
    {
        var batch = new List<(string, DeltaDiscoveryResponse)>();
        var now = Engine.Time.GetUtcNow();
        foreach (var typeUrl in IsAds ? TypeUrls.PushOrder : [FixedType!])
        {
            if (!_types.TryGetValue(typeUrl, out var sub) || !sub.Requested
                || ResponsePlanner.PlanDelta(sub, current.Snapshot.Get(typeUrl), _types, IsAds) is not { } plan)
            {
                continue;
            }
            var nonce = Nonces.Next();
            sub.Sent(plan, nonce, now);
            var response = new DeltaDiscoveryResponse { TypeUrl = typeUrl, SystemVersionInfo = plan.Version, Nonce = nonce };
            foreach (var resource in plan.Resources)
            {
                response.Resources.Add(new Resource { Name = resource.Name, Version = resource.Version, Resource_ = resource.AsAny() });
            }
            response.RemovedResources.Add(plan.Removed);
            XdsLog.Pushed(Engine.Logger, typeUrl, plan.Version, nonce, plan.Resources.Count, plan.Removed.Count, Node.Id);
            batch.Add((typeUrl, response));
        }
        return batch;
    }

    protected override IReadOnlyList<XdsTypeStatus> TypeStatuses() =>
        [.. _types.Values.Where(t => t.Requested).Select(t => t.ToStatus())];
}
