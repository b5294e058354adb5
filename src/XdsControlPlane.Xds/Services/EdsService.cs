using Envoy.Service.Discovery.V3;
using Envoy.Service.Endpoint.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>EDS on its own stream.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindEds))]
public sealed class EdsService(XdsEngine engine) : EndpointDiscoveryService.EndpointDiscoveryServiceBase
{
    public override Task StreamEndpoints(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("EDS", TypeUrls.Endpoint, requestStream, responseStream, context);

    public override Task DeltaEndpoints(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("EDS", TypeUrls.Endpoint, requestStream, responseStream, context);
}
