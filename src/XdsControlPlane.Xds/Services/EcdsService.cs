using Envoy.Service.Discovery.V3;
using Envoy.Service.Extension.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

/// <summary>ECDS on its own stream: TypedExtensionConfig by filter name.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindEcds))]
public sealed class EcdsService(XdsEngine engine) : ExtensionConfigDiscoveryService.ExtensionConfigDiscoveryServiceBase
{
    public override Task StreamExtensionConfigs(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("ECDS", TypeUrls.ExtensionConfig, requestStream, responseStream, context);

    public override Task DeltaExtensionConfigs(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("ECDS", TypeUrls.ExtensionConfig, requestStream, responseStream, context);
}
