using Envoy.Service.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Envoy.Service.Endpoint.V3;
using Envoy.Service.Extension.V3;
using Envoy.Service.Listener.V3;
using Envoy.Service.Route.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
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

/// <summary>LDS on its own stream (KKP's stock bootstrap uses lds_config).</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindLds))]
public sealed class LdsService(XdsEngine engine) : ListenerDiscoveryService.ListenerDiscoveryServiceBase
{
    public override Task StreamListeners(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("LDS", TypeUrls.Listener, requestStream, responseStream, context);

    public override Task DeltaListeners(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("LDS", TypeUrls.Listener, requestStream, responseStream, context);
}

/// <summary>CDS on its own stream (KKP's stock bootstrap uses cds_config).</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindCds))]
public sealed class CdsService(XdsEngine engine) : ClusterDiscoveryService.ClusterDiscoveryServiceBase
{
    public override Task StreamClusters(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("CDS", TypeUrls.Cluster, requestStream, responseStream, context);

    public override Task DeltaClusters(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("CDS", TypeUrls.Cluster, requestStream, responseStream, context);
}

/// <summary>EDS on its own stream.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindEds))]
public sealed class EdsService(XdsEngine engine) : EndpointDiscoveryService.EndpointDiscoveryServiceBase
{
    public override Task StreamEndpoints(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("EDS", TypeUrls.Endpoint, requestStream, responseStream, context);

    public override Task DeltaEndpoints(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("EDS", TypeUrls.Endpoint, requestStream, responseStream, context);
}

/// <summary>RDS on its own stream.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindRds))]
public sealed class RdsService(XdsEngine engine) : RouteDiscoveryService.RouteDiscoveryServiceBase
{
    public override Task StreamRoutes(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("RDS", TypeUrls.Route, requestStream, responseStream, context);

    public override Task DeltaRoutes(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("RDS", TypeUrls.Route, requestStream, responseStream, context);
}

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

/// <summary>ECDS on its own stream: TypedExtensionConfig by filter name.</summary>
[BindServiceMethod(typeof(ChunkedResponseBinding), nameof(ChunkedResponseBinding.BindEcds))]
public sealed class EcdsService(XdsEngine engine) : ExtensionConfigDiscoveryService.ExtensionConfigDiscoveryServiceBase
{
    public override Task StreamExtensionConfigs(IAsyncStreamReader<DiscoveryRequest> requestStream, IServerStreamWriter<DiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunSotwAsync("ECDS", TypeUrls.ExtensionConfig, requestStream, responseStream, context);

    public override Task DeltaExtensionConfigs(IAsyncStreamReader<DeltaDiscoveryRequest> requestStream, IServerStreamWriter<DeltaDiscoveryResponse> responseStream, ServerCallContext context) =>
        engine.RunDeltaAsync("ECDS", TypeUrls.ExtensionConfig, requestStream, responseStream, context);
}
