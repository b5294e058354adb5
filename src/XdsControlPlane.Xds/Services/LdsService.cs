using Envoy.Service.Discovery.V3;
using Envoy.Service.Listener.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>LDS on its own stream (KKP's stock bootstrap uses lds_config).</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindLds))]
public sealed class LdsService(XdsEngine engine) : ListenerDiscoveryService.ListenerDiscoveryServiceBase
{
    public override Task StreamListeners(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("LDS", TypeUrls.Listener, requestStream, responseStream, context);

    public override Task DeltaListeners(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("LDS", TypeUrls.Listener, requestStream, responseStream, context);
}
