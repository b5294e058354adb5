using Envoy.Service.Discovery.V3;
using Grpc.Core;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Xds.Services;

// Thin gRPC adapters: every service runs the same engine. Fetch* (REST-style polling) is not served.
// Each is bound through ChunkedResponseBinding: the generated binding with responses written in 64 KiB chunks.

/// <summary>ADS: every type on one stream, pushed in CDS → EDS → LDS → SRDS → RDS → ECDS order.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindAds))]
public sealed class AdsService(XdsEngine engine) : AggregatedDiscoveryService.AggregatedDiscoveryServiceBase
{
    public override Task StreamAggregatedResources(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("ADS", null, requestStream, responseStream, context);

    public override Task DeltaAggregatedResources(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("ADS", null, requestStream, responseStream, context);
}
