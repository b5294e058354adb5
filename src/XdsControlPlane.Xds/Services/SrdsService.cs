using Envoy.Service.Discovery.V3;
using Envoy.Service.Route.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>
/// SRDS on its own stream: the tunneling listener's scopes (ScopedRouteConfiguration), for the <c>grpc</c> config
/// source style (KKP's stock bootstrap), where Envoy opens one stream per type to <c>xds_cluster</c>.
/// </summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindSrds))]
public sealed class SrdsService(XdsEngine engine) : ScopedRoutesDiscoveryService.ScopedRoutesDiscoveryServiceBase
{
    public override Task StreamScopedRoutes(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("SRDS", TypeUrls.ScopedRoute, requestStream, responseStream, context);

    public override Task DeltaScopedRoutes(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("SRDS", TypeUrls.ScopedRoute, requestStream, responseStream, context);
}
