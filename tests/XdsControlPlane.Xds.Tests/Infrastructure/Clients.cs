using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Envoy.Service.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Envoy.Service.Endpoint.V3;
using Envoy.Service.Extension.V3;
using Envoy.Service.Listener.V3;
using Envoy.Service.Route.V3;
using Grpc.Core;
using Grpc.Net.Client;
using RpcStatus = Google.Rpc.Status;

namespace XdsControlPlane.Xds.Tests.Infrastructure;

/// <summary>Timeouts of the tests: every await is bounded; "nothing arrives" is a short bounded wait.</summary>
internal static class Waits
{
    public static readonly TimeSpan Response = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan Nothing = TimeSpan.FromMilliseconds(400);
}

/// <summary>A duplex xDS call whose responses are pumped into a channel, so tests can wait with a timeout.</summary>
internal abstract class XdsClient<TRequest, TResponse> : IAsyncDisposable
{
    private readonly AsyncDuplexStreamingCall<TRequest, TResponse> _call;
    private readonly Channel<TResponse> _received = Channel.CreateUnbounded<TResponse>();
    private readonly CancellationTokenSource _cts;
    private readonly Task _pump;

    protected XdsClient(Func<CancellationToken, AsyncDuplexStreamingCall<TRequest, TResponse>> open, string nodeId)
    {
        NodeId = nodeId;
        _cts = new CancellationTokenSource();
        _call = open(_cts.Token);
        _pump = PumpAsync();
    }

    public string NodeId { get; }

    public bool NodeSent { get; protected set; }

    /// <summary>Changes the node sent with the first request (another cluster, metadata).</summary>
    public Action<Node>? EditNode { get; set; }

    private async Task PumpAsync()
    {
        try
        {
            await foreach (var response in _call.ResponseStream.ReadAllAsync(_cts.Token))
            {
                await _received.Writer.WriteAsync(response);
            }
            _received.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            _received.Writer.TryComplete(ex);
        }
    }

    public Task SendAsync(TRequest request) => _call.RequestStream.WriteAsync(request).WaitAsync(Waits.Response);

    public async Task<TResponse> NextAsync()
    {
        try
        {
            return await _received.Reader.ReadAsync().AsTask().WaitAsync(Waits.Response);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no response within {Waits.Response}");
        }
    }

    /// <summary>Asserts that nothing arrives within a short bounded wait (a protocol assertion, not a timing one).</summary>
    public async Task ExpectNothingAsync()
    {
        await Task.Delay(Waits.Nothing);
        if (_received.Reader.TryRead(out var unexpected))
        {
            Assert.Fail($"expected no response, got {unexpected}");
        }
    }

    /// <summary>Waits for the call to end with a status.</summary>
    public async Task<RpcException> ExpectErrorAsync()
    {
        try
        {
            while (true)
            {
                await NextAsync();
            }
        }
        catch (RpcException ex)
        {
            return ex;
        }
        catch (ChannelClosedException ex) when (ex.InnerException is RpcException inner)
        {
            return inner;
        }
    }

    public void Cancel() => _cts.Cancel();

    private bool _disposed;

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        await _cts.CancelAsync();
        try
        {
            await _pump.WaitAsync(Waits.Response);
        }
        catch (TimeoutException)
        {
        }
        _call.Dispose();
        _cts.Dispose();
    }

    protected Node? FirstNode()
    {
        if (NodeSent)
        {
            return null;
        }
        NodeSent = true;
        var node = new Node
        {
            Id = NodeId,
            Cluster = "kkp-nodeport-proxy",
            UserAgentName = "envoy",
            UserAgentBuildVersion = new BuildVersion { Version = new Envoy.Type.V3.SemanticVersion { MajorNumber = 1, MinorNumber = 37, Patch = 0 } },
            ClientFeatures = { "envoy.lb.does_not_support_overprovisioning" },
        };
        EditNode?.Invoke(node);
        return node;
    }
}

internal sealed class SotwClient : XdsClient<DiscoveryRequest, DiscoveryResponse>
{
    private SotwClient(Func<CancellationToken, AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse>> open, string nodeId)
        : base(open, nodeId)
    {
    }

    public static SotwClient Ads(GrpcChannel channel, string nodeId) =>
        new(ct => new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(cancellationToken: ct), nodeId);

    public static SotwClient Lds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new ListenerDiscoveryService.ListenerDiscoveryServiceClient(channel).StreamListeners(cancellationToken: ct), nodeId);

    public static SotwClient Cds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new ClusterDiscoveryService.ClusterDiscoveryServiceClient(channel).StreamClusters(cancellationToken: ct), nodeId);

    public static SotwClient Eds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new EndpointDiscoveryService.EndpointDiscoveryServiceClient(channel).StreamEndpoints(cancellationToken: ct), nodeId);

    public static SotwClient Rds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new RouteDiscoveryService.RouteDiscoveryServiceClient(channel).StreamRoutes(cancellationToken: ct), nodeId);

    public static SotwClient Srds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new ScopedRoutesDiscoveryService.ScopedRoutesDiscoveryServiceClient(channel).StreamScopedRoutes(cancellationToken: ct), nodeId);

    public static SotwClient Ecds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new ExtensionConfigDiscoveryService.ExtensionConfigDiscoveryServiceClient(channel).StreamExtensionConfigs(cancellationToken: ct), nodeId);

    /// <summary>Sends a request; the node goes with the first one only, as Envoy does.</summary>
    public Task RequestAsync(string typeUrl, IEnumerable<string>? names = null, string version = "", string nonce = "", RpcStatus? error = null)
    {
        var request = new DiscoveryRequest { TypeUrl = typeUrl, VersionInfo = version, ResponseNonce = nonce, Node = FirstNode(), ErrorDetail = error };
        request.ResourceNames.Add(names ?? []);
        return SendAsync(request);
    }

    /// <summary>
    /// Sends a request the server is expected to refuse and returns the status the call ends with: the request side
    /// may fail first (a refused handshake, a reset stream), and the call's status is what the response side reports.
    /// </summary>
    public async Task<RpcException> RequestExpectingErrorAsync(string typeUrl, IEnumerable<string>? names = null)
    {
        try
        {
            await RequestAsync(typeUrl, names);
        }
        catch (RpcException ex) when (ex.StatusCode != StatusCode.Cancelled)
        {
            return ex;
        }
        catch (RpcException)
        {
            // CANCELLED: the write of a large request was cut short because the server already ended the call.
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or TimeoutException)
        {
        }
        return await ExpectErrorAsync();
    }

    /// <summary>Subscribes and returns the first response.</summary>
    public async Task<DiscoveryResponse> SubscribeAsync(string typeUrl, params string[] names)
    {
        await RequestAsync(typeUrl, names);
        var response = await NextAsync();
        Assert.Equal(typeUrl, response.TypeUrl);
        return response;
    }

    public Task AckAsync(DiscoveryResponse response, IEnumerable<string>? names = null) =>
        RequestAsync(response.TypeUrl, names, response.VersionInfo, response.Nonce);

    public Task NackAsync(DiscoveryResponse response, string acceptedVersion, string message, IEnumerable<string>? names = null) =>
        RequestAsync(response.TypeUrl, names, acceptedVersion, response.Nonce, new RpcStatus { Code = 3, Message = message });
}

internal sealed class DeltaClient : XdsClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>
{
    private DeltaClient(Func<CancellationToken, AsyncDuplexStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse>> open, string nodeId)
        : base(open, nodeId)
    {
    }

    public static DeltaClient Ads(GrpcChannel channel, string nodeId) =>
        new(ct => new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources(cancellationToken: ct), nodeId);

    public static DeltaClient Srds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new ScopedRoutesDiscoveryService.ScopedRoutesDiscoveryServiceClient(channel).DeltaScopedRoutes(cancellationToken: ct), nodeId);

    public static DeltaClient Cds(GrpcChannel channel, string nodeId = "envoy-1") =>
        new(ct => new ClusterDiscoveryService.ClusterDiscoveryServiceClient(channel).DeltaClusters(cancellationToken: ct), nodeId);

    public Task RequestAsync(string typeUrl, IEnumerable<string>? subscribe = null, IEnumerable<string>? unsubscribe = null,
        string nonce = "", IDictionary<string, string>? initialVersions = null, RpcStatus? error = null, IEnumerable<string>? clientFeatures = null)
    {
        var node = FirstNode();
        if (node is not null && clientFeatures is not null)
        {
            node.ClientFeatures.Add(clientFeatures);
        }
        var request = new DeltaDiscoveryRequest { TypeUrl = typeUrl, ResponseNonce = nonce, Node = node, ErrorDetail = error };
        request.ResourceNamesSubscribe.Add(subscribe ?? []);
        request.ResourceNamesUnsubscribe.Add(unsubscribe ?? []);
        if (initialVersions is not null)
        {
            request.InitialResourceVersions.Add(initialVersions);
        }
        return SendAsync(request);
    }

    public Task AckAsync(DeltaDiscoveryResponse response) => RequestAsync(response.TypeUrl, nonce: response.Nonce);
}

internal static class ResponseExtensions
{
    public static string[] Names(this DiscoveryResponse response) =>
        [.. response.Resources.Select(any => any.TypeUrl switch
        {
            Snapshots.TypeUrls.Cluster => any.Unpack<Envoy.Config.Cluster.V3.Cluster>().Name,
            Snapshots.TypeUrls.Endpoint => any.Unpack<Envoy.Config.Endpoint.V3.ClusterLoadAssignment>().ClusterName,
            Snapshots.TypeUrls.Listener => any.Unpack<Envoy.Config.Listener.V3.Listener>().Name,
            Snapshots.TypeUrls.Route => any.Unpack<Envoy.Config.Route.V3.RouteConfiguration>().Name,
            Snapshots.TypeUrls.ScopedRoute => any.Unpack<Envoy.Config.Route.V3.ScopedRouteConfiguration>().Name,
            Snapshots.TypeUrls.ExtensionConfig => any.Unpack<TypedExtensionConfig>().Name,
            _ => throw new InvalidOperationException(any.TypeUrl),
        })];

    public static string[] Names(this DeltaDiscoveryResponse response) => [.. response.Resources.Select(r => r.Name)];
}
