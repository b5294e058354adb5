using Envoy.Service.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>CDS on its own stream (KKP's stock bootstrap uses cds_config).</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindCds))]
public sealed class CdsService(XdsEngine engine) : ClusterDiscoveryService.ClusterDiscoveryServiceBase
{
    public override Task StreamClusters(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("CDS", TypeUrls.Cluster, requestStream, responseStream, context);

    public override Task DeltaClusters(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("CDS", TypeUrls.Cluster, requestStream, responseStream, context);
}
