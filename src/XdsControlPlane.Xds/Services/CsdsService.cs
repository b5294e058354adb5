using Envoy.Admin.V3;
using Envoy.Config.Core.V3;
using Envoy.Service.Status.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>
/// Client Status Discovery Service: per connected node, one <c>GenericXdsConfig</c> per resource the
/// server sent, with the config status (SYNCED/STALE/ERROR) and client status (ACKED/NACKED/REQUESTED)
/// derived from ACK/NACK. <c>xds_config</c> is left empty (the resources are in /debug/config_dump).
/// Node matchers filter by exact node id only.
/// </summary>
public sealed class CsdsService(XdsEngine engine) : ClientStatusDiscoveryService.ClientStatusDiscoveryServiceBase
{
    public override Task<ClientStatusResponse> FetchClientStatus(ClientStatusRequest request, ServerCallContext context) =>
        Task.FromResult(Build(request));

    public override async Task StreamClientStatus(IAsyncStreamReader<ClientStatusRequest> requestStream, IServerStreamWriter<ClientStatusResponse> responseStream, ServerCallContext context)
    {
        while (await requestStream.MoveNext(context.CancellationToken))
        {
            await responseStream.WriteAsync(Build(requestStream.Current), context.CancellationToken);
        }
    }

    private ClientStatusResponse Build(ClientStatusRequest request)
    {
        var wantedIds = request.NodeMatchers
            .Select(m => m.NodeId?.Exact)
            .Where(id => !string.IsNullOrEmpty(id))
            .ToHashSet(StringComparer.Ordinal);
        var response = new ClientStatusResponse();
        foreach (var node in engine.Connected().GroupBy(s => new NodeKey(s.NodeId, s.NodeCluster)))
        {
            if (wantedIds.Count > 0 && !wantedIds.Contains(node.Key.Id))
            {
                continue;
            }
            var config = new ClientConfig { Node = new Node { Id = node.Key.Id, Cluster = node.Key.Cluster } };
            foreach (var type in node.SelectMany(s => s.Types))
            {
                var configStatus = type.Status switch
                {
                    SyncStatus.Synced => ConfigStatus.Synced,
                    SyncStatus.Stale => ConfigStatus.Stale,
                    SyncStatus.Error => ConfigStatus.Error,
                    _ => ConfigStatus.NotSent,
                };
                var clientStatus = type.Status switch
                {
                    SyncStatus.Synced => ClientResourceStatus.Acked,
                    SyncStatus.Error => ClientResourceStatus.Nacked,
                    _ => ClientResourceStatus.Requested,
                };
                var entries = type.ResourcesSent.Count > 0 ? type.ResourcesSent : [KeyValuePair.Create("", "")];
                foreach (var (name, _) in entries)
                {
                    var generic = new ClientConfig.Types.GenericXdsConfig
                    {
                        TypeUrl = type.TypeUrl,
                        Name = name,
                        VersionInfo = type.VersionSent ?? "",
                        ConfigStatus = configStatus,
                        ClientStatus = clientStatus,
                    };
                    if (type.SentAt is { } at)
                    {
                        generic.LastUpdated = Timestamp.FromDateTimeOffset(at);
                    }
                    if (type.Status == SyncStatus.Error && type.LastNack is { } nack)
                    {
                        generic.ErrorState = new UpdateFailureState
                        {
                            Details = nack.Message,
                            VersionInfo = nack.Version,
                            LastUpdateAttempt = Timestamp.FromDateTimeOffset(nack.At),
                        };
                    }
                    config.GenericXdsConfigs.Add(generic);
                }
            }
            response.Config.Add(config);
        }
        return response;
    }
}
