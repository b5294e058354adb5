using Envoy.Service.Discovery.V3;
using Envoy.Service.Route.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>RDS on its own stream.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindRds))]
public sealed class RdsService(XdsEngine engine) : RouteDiscoveryService.RouteDiscoveryServiceBase
{
    public override Task StreamRoutes(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("RDS", TypeUrls.Route, requestStream, responseStream, context);

    public override Task DeltaRoutes(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("RDS", TypeUrls.Route, requestStream, responseStream, context);
}
