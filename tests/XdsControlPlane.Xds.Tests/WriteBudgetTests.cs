using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>
/// The server-wide write budget (<see cref="XdsServerOptions.WriteBudgetBytes"/>) over real HTTP/2: clients that
/// open streams at once and do not read yet keep their responses in flight, which is what many Envoys reconnecting
/// at once look like to the server. The bytes in flight are read from the server's metrics, not timed.
/// </summary>
public sealed class WriteBudgetTests
{
    private const int Clients = 6;

    private const int ClusterCount = 1_500;

    /// <summary>Well over a 64 KiB client stream window: a CDS push cannot finish while its client does not read.</summary>
    private static Snapshot Big() =>
        Snap([.. Enumerable.Range(0, ClusterCount).SelectMany(i => Cluster($"cluster-{i:D4}-{new string('x', 150)}"))]);

    /// <summary>The serialised size of the CDS push of <paramref name="snapshot"/>, but for its version and nonce (a few dozen bytes).</summary>
    private static long CdsPushSize(Snapshot snapshot)
    {
        var response = new DiscoveryResponse { TypeUrl = TypeUrls.Cluster };
        foreach (var resource in snapshot.Get(TypeUrls.Cluster).Resources.Values)
        {
            response.Resources.Add(resource.AsAny());
        }
        return response.CalculateSize();
    }

    /// <summary>A client on its own connection that asks for clusters and does not read until told to.</summary>
    private sealed class UnreadClient : IDisposable
    {
        private readonly GrpcChannel _channel;
        private readonly AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> _call;

        private UnreadClient(GrpcChannel channel, AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> call)
        {
            _channel = channel;
            _call = call;
        }

        public static async Task<UnreadClient> OpenAsync(XdsTestServer server, string nodeId)
        {
            var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
            {
                MaxReceiveMessageSize = null,
                HttpHandler = new SocketsHttpHandler { InitialHttp2StreamWindowSize = 65_535 },
            });
            var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel).StreamAggregatedResources();
            var subscribe = new DiscoveryRequest { TypeUrl = TypeUrls.Cluster, Node = new Envoy.Config.Core.V3.Node { Id = nodeId } };
            await call.RequestStream.WriteAsync(subscribe).WaitAsync(Waits.Response);
            return new UnreadClient(channel, call);
        }

        public async Task<DiscoveryResponse> ReadAsync()
        {
            Assert.True(await _call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(20)));
            return _call.ResponseStream.Current;
        }

        public void Dispose()
        {
            _call.Dispose();
            _channel.Dispose();
        }
    }

    private static async Task<List<UnreadClient>> OpenAsync(XdsTestServer server, int count)
    {
        var clients = new List<UnreadClient>();
        for (var i = 0; i < count; i++)
        {
            clients.Add(await UnreadClient.OpenAsync(server, $"envoy-{i}"));
        }
        await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().Count == count, $"{count} streams open");
        return clients;
    }

    [Fact]
    public async Task StreamsOpeningAtOnce_NeverHaveMoreThanTheBudgetInFlight_AndAllAreServed()
    {
        var big = Big();
        var push = CdsPushSize(big);
        // Two pushes fit, a third does not (the version and nonce are a few dozen bytes on top of `push`).
        var budget = push * 5 / 2;
        await using var server = await XdsTestServer.StartAsync(big, o => o.WriteBudgetBytes = budget);
        var metrics = server.Engine.Metrics;
        var clients = await OpenAsync(server, Clients);
        try
        {
            // Nobody reads: two writes hold the budget, the other four wait for it.
            await XdsTestServer.EventuallyAsync(() => metrics.WriteBudgetWaiting == Clients - 2 && metrics.WriteBytesInFlight >= 2 * push,
                "two pushes in flight and the rest waiting for the budget", within: TimeSpan.FromSeconds(15));
            Assert.InRange(metrics.WriteBytesInFlight, 2 * push, budget);

            // Everyone reads: the waiting writes go in turn, and every client gets every cluster.
            var responses = await Task.WhenAll(clients.Select(c => c.ReadAsync()));
            Assert.All(responses, r => Assert.Equal(ClusterCount, r.Resources.Count));
            await XdsTestServer.EventuallyAsync(() => metrics.WriteBytesInFlight == 0 && metrics.WriteBudgetWaiting == 0, "every write ended");
            Assert.InRange(metrics.WriteBytesHighWater, 2 * push, budget);
            Assert.Equal(Clients - 2, metrics.WriteBudgetWaits);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task WithARoomyBudget_TheSameStreamsAllWriteAtOnce()
    {
        // The other test's check is only worth something if, unbounded, these streams do write all at once.
        var big = Big();
        var push = CdsPushSize(big);
        await using var server = await XdsTestServer.StartAsync(big);
        var metrics = server.Engine.Metrics;
        var clients = await OpenAsync(server, Clients);
        try
        {
            await XdsTestServer.EventuallyAsync(() => metrics.WriteBytesInFlight >= Clients * push, "every push in flight at once",
                within: TimeSpan.FromSeconds(15));
            Assert.Equal(0, metrics.WriteBudgetWaiting);
            var responses = await Task.WhenAll(clients.Select(c => c.ReadAsync()));
            Assert.All(responses, r => Assert.Equal(ClusterCount, r.Resources.Count));
            Assert.Equal(0, metrics.WriteBudgetWaits);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task AResponseLargerThanTheWholeBudget_GoesThroughAlone()
    {
        var big = Big();
        var push = CdsPushSize(big);
        await using var server = await XdsTestServer.StartAsync(big, o => o.WriteBudgetBytes = push / 10);
        var metrics = server.Engine.Metrics;
        var clients = await OpenAsync(server, 3);
        try
        {
            await XdsTestServer.EventuallyAsync(() => metrics.WriteBudgetWaiting == 2 && metrics.WriteBytesInFlight >= push,
                "one push in flight, two waiting", within: TimeSpan.FromSeconds(15));
            var responses = await Task.WhenAll(clients.Select(c => c.ReadAsync()));
            Assert.All(responses, r => Assert.Equal(ClusterCount, r.Resources.Count));
            Assert.InRange(metrics.WriteBytesHighWater, push, push + 1_000);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task AStreamWaitingForTheBudget_EndsWhenItsClientGoes_AndGivesNothingBack()
    {
        var big = Big();
        var push = CdsPushSize(big);
        await using var server = await XdsTestServer.StartAsync(big, o => o.WriteBudgetBytes = push * 3 / 2);
        var metrics = server.Engine.Metrics;
        var clients = await OpenAsync(server, 3);
        try
        {
            await XdsTestServer.EventuallyAsync(() => metrics.WriteBudgetWaiting == 2, "two streams waiting", within: TimeSpan.FromSeconds(15));
            // Every client goes; the waiting streams leave the queue, the writing one is reset, and nothing stays held.
            clients.ForEach(c => c.Dispose());
            await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().Count == 0, "every stream closed", within: TimeSpan.FromSeconds(15));
            Assert.Equal(0, metrics.WriteBudgetWaiting);
            Assert.Equal(0, metrics.WriteBytesInFlight);

            // The budget is whole again: a new client is served at once.
            using var next = await UnreadClient.OpenAsync(server, "envoy-next");
            Assert.Equal(ClusterCount, (await next.ReadAsync()).Resources.Count);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task AClientThatStopsReadingThenCancels_EndsItsStream_WithNoErrorLogged()
    {
        var logs = new RecordingLogs();
        var big = Big();
        var server = await XdsTestServer.StartAsync(big, logs: logs);
        var metrics = server.Engine.Metrics;
        var clients = new List<UnreadClient>();
        try
        {
            clients = await OpenAsync(server, Clients);
            await XdsTestServer.EventuallyAsync(() => metrics.WriteBytesInFlight >= Clients * CdsPushSize(big), "every push in flight",
                within: TimeSpan.FromSeconds(15));
            // Each client cancels its call (RST_STREAM) while the server's write waits for it to read.
            clients.ForEach(c => c.Dispose());
            await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().Count == 0, "every stream closed", within: TimeSpan.FromSeconds(15));
            Assert.Equal(0, metrics.WriteBytesInFlight);
            Assert.Equal(0, metrics.RefusedCount(XdsRefusal.WriteTimeout));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
            // Kestrel logs a handler's late cancellation (ObjectDisposedException from gRPC's CancelRequest) at error
            // level, after the request ended: the server is stopped first, so every such line is in.
            await server.DisposeAsync();
        }
        Assert.DoesNotContain(logs.Errors, e => e.Exception is ObjectDisposedException);
        Assert.Empty(logs.Errors);
    }
}
