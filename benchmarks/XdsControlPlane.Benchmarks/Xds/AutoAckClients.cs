using Envoy.Config.Core.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// An ADS client that behaves like an Envoy subscribed to everything: one wildcard request per type
/// (CDS, EDS, LDS, RDS, and ECDS, which the tenants' RBAC filters use), and every response ACKed at once on
/// the same stream. Only the pump writes
/// after the initial requests, so writes never overlap.
/// </summary>
internal abstract class AutoAckClient<TRequest, TResponse> : IAsyncDisposable
    where TRequest : class
    where TResponse : class, Google.Protobuf.IMessage
{
    public static readonly string[] Types = [TypeUrls.Cluster, TypeUrls.Endpoint, TypeUrls.Listener, TypeUrls.Route, TypeUrls.ExtensionConfig];

    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<string> _seen = [];
    private AsyncDuplexStreamingCall<TRequest, TResponse>? _call;
    private Task? _pump;

    protected AutoAckClient(string nodeId) => NodeId = nodeId;

    public string NodeId { get; }

    /// <summary>Completes when every type has been received once and ACKed.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Called after each response has been ACKed, on the pump, with the time it arrived.</summary>
    public Action<TResponse, long>? OnAcked { get; set; }

    protected abstract AsyncDuplexStreamingCall<TRequest, TResponse> Open(GrpcChannel channel, CancellationToken ct);

    protected abstract TRequest Subscribe(string typeUrl, Node? node);

    protected abstract TRequest Ack(TResponse response);

    protected abstract string TypeOf(TResponse response);

    public async Task StartAsync(GrpcChannel channel)
    {
        _call = Open(channel, _cts.Token);
        var node = new Node { Id = NodeId, Cluster = "kkp-nodeport-proxy", UserAgentName = "envoy" };
        foreach (var type in Types)
        {
            await _call.RequestStream.WriteAsync(Subscribe(type, node));
            node = null;
        }
        _pump = PumpAsync(_call);
    }

    private async Task PumpAsync(AsyncDuplexStreamingCall<TRequest, TResponse> call)
    {
        try
        {
            await foreach (var response in call.ResponseStream.ReadAllAsync(_cts.Token))
            {
                var arrived = System.Diagnostics.Stopwatch.GetTimestamp();
                await call.RequestStream.WriteAsync(Ack(response));
                OnAcked?.Invoke(response, arrived);
                if (!_ready.Task.IsCompleted && _seen.Add(TypeOf(response)) && _seen.Count == Types.Length)
                {
                    _ready.TrySetResult();
                }
            }
            _ready.TrySetException(new InvalidOperationException($"{NodeId}: stream ended"));
        }
        catch (Exception ex)
        {
            _ready.TrySetException(ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        if (_pump is not null)
        {
            await _pump.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        _call?.Dispose();
        _cts.Dispose();
    }
}

internal sealed class AutoAckSotwClient(string nodeId) : AutoAckClient<DiscoveryRequest, DiscoveryResponse>(nodeId)
{
    protected override AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> Open(GrpcChannel channel, CancellationToken ct) =>
        new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources(cancellationToken: ct);

    protected override DiscoveryRequest Subscribe(string typeUrl, Node? node) => new() { TypeUrl = typeUrl, Node = node };

    protected override DiscoveryRequest Ack(DiscoveryResponse response) =>
        new() { TypeUrl = response.TypeUrl, VersionInfo = response.VersionInfo, ResponseNonce = response.Nonce };

    protected override string TypeOf(DiscoveryResponse response) => response.TypeUrl;
}

internal sealed class AutoAckDeltaClient(string nodeId) : AutoAckClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(nodeId)
{
    protected override AsyncDuplexStreamingCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse> Open(GrpcChannel channel, CancellationToken ct) =>
        new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).DeltaAggregatedResources(cancellationToken: ct);

    protected override DeltaDiscoveryRequest Subscribe(string typeUrl, Node? node) =>
        new() { TypeUrl = typeUrl, Node = node, ResourceNamesSubscribe = { "*" } };

    protected override DeltaDiscoveryRequest Ack(DeltaDiscoveryResponse response) =>
        new() { TypeUrl = response.TypeUrl, ResponseNonce = response.Nonce };

    protected override string TypeOf(DeltaDiscoveryResponse response) => response.TypeUrl;
}

/// <summary>Connects many SotW streams over a few channels and waits until each has ACKed the whole snapshot.</summary>
internal sealed class SotwFleet : IAsyncDisposable
{
    private SotwFleet(GrpcChannel[] channels, AutoAckSotwClient[] clients)
    {
        Channels = channels;
        Clients = clients;
    }

    public GrpcChannel[] Channels { get; }

    public AutoAckSotwClient[] Clients { get; }

    public static async Task<SotwFleet> ConnectAsync(string address, int streams, Action<AutoAckSotwClient, int>? configure = null)
    {
        var channels = BenchChannels.For(address, streams);
        var clients = new AutoAckSotwClient[streams];
        for (var i = 0; i < streams; i++)
        {
            clients[i] = new AutoAckSotwClient($"envoy-{i:D4}");
            configure?.Invoke(clients[i], i);
        }
        // Connect in waves so the initial snapshot (several MB per stream) does not all queue at once.
        const int wave = 100;
        for (var start = 0; start < streams; start += wave)
        {
            var batch = clients.Skip(start).Take(wave).ToArray();
            await Task.WhenAll(batch.Select((c, k) => c.StartAsync(channels[(start + k) % channels.Length])));
            await Task.WhenAll(batch.Select(c => c.Ready)).WaitAsync(TimeSpan.FromMinutes(2));
        }
        return new SotwFleet(channels, clients);
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Clients.Select(c => c.DisposeAsync().AsTask()));
        foreach (var channel in Channels)
        {
            channel.Dispose();
        }
    }
}
