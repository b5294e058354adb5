using Envoy.Service.Discovery.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>
/// What one client may cost the server: one misbehaving client per limit, over real HTTP/2, each refused with its
/// gRPC status and counted, while a well-behaved stream beside it keeps receiving pushes.
/// </summary>
public sealed class LimitTests
{
    private static Snapshot Base() => Snap(Cluster("a"), Listener("l1", 10000, "a"));

    private static Snapshot Next() => Snap(Cluster("a"), Cluster("b"), Listener("l1", 10000, "a"));

    /// <summary>A well-behaved Envoy on its own connection, subscribed to clusters.</summary>
    private static async Task<(GrpcChannel Channel, SotwClient Client)> WellBehavedAsync(XdsTestServer server)
    {
        var channel = GrpcChannel.ForAddress(server.Address);
        var client = SotwClient.Ads(channel, "envoy-good");
        var first = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(first);
        return (channel, client);
    }

    /// <summary>The well-behaved stream still gets the next snapshot's push.</summary>
    private static async Task StillPushedAsync(XdsTestServer server, SotwClient good)
    {
        server.Set(Next());
        Assert.Equal(["a", "b"], (await good.NextAsync()).Names());
    }

    private static string[] Names(int count, int length) =>
        [.. Enumerable.Range(0, count).Select(i => $"{i:D6}-{new string('n', length - 7)}").Order(StringComparer.Ordinal)];

    [Fact]
    public async Task ARequestOverTheByteLimit_IsResourceExhausted_AndCounted()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxRequestBytes = 64 * 1024);
        var (channel, good) = await WellBehavedAsync(server);
        await using (good)
        using (channel)
        {
            await using var big = server.Ads("envoy-big");
            // 1,000 names of 100 bytes: ~100 KB in one message.
            // The server may end the call before the whole request is written.
            var error = await big.RequestExpectingErrorAsync(TypeUrls.Endpoint, Names(1_000, 100));
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.Equal(1, server.Engine.Metrics.RefusedCount(XdsRefusal.RequestBytes));
            await StillPushedAsync(server, good);
        }
    }

    [Fact]
    public async Task TheDefaultRequestLimit_TakesTheEdsAckOfASeedWith10000Tenants()
    {
        // What an Envoy of a 10,000-tenant seed repeats in every EDS ACK: three EDS names per tenant, named as the
        // compiler names them. The default must take it with room to spare.
        var names = Enumerable.Range(0, 10_000)
            .SelectMany(i => new[] { "apiserver-external-secure", "openvpn-server-secure", "konnectivity-server-secure" }
                .Select(service => $"cluster-{i:x10}/{service}"))
            .Order(StringComparer.Ordinal).ToArray();
        var request = new DiscoveryRequest { TypeUrl = TypeUrls.Endpoint };
        request.ResourceNames.Add(names);
        Assert.InRange(request.CalculateSize(), 1_000_000, new XdsServerOptions().MaxRequestBytes / 2);

        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        await client.RequestAsync(TypeUrls.Endpoint, names);
        Assert.Equal(["a"], (await client.SubscribeAsync(TypeUrls.Cluster)).Names());
        Assert.Equal(30_000, server.SingleStream().Types.Single(t => t.TypeUrl == TypeUrls.Endpoint).SubscribedNames);
    }

    [Fact]
    public async Task SubscribedNameBytes_OverTheLimit_AreResourceExhausted_OverSotw()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxSubscribedNameBytesPerType = 10_000);
        var (channel, good) = await WellBehavedAsync(server);
        await using (good)
        using (channel)
        {
            await using var client = server.Ads("envoy-names");
            // 99 names of 100 bytes fit; 101 do not (each request far below the count limits).
            await client.RequestAsync(TypeUrls.Endpoint, Names(99, 100));
            Assert.Equal(["a"], (await client.SubscribeAsync(TypeUrls.Cluster)).Names());
            await client.RequestAsync(TypeUrls.Endpoint, Names(101, 100));
            Assert.Equal(StatusCode.ResourceExhausted, (await client.ExpectErrorAsync()).StatusCode);
            Assert.Equal(1, server.Engine.Metrics.RefusedCount(XdsRefusal.SubscriptionBytes));
            await StillPushedAsync(server, good);
        }
    }

    [Fact]
    public async Task SubscribedNameBytes_AddedUpOverManyDeltaRequests_AreResourceExhausted()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxSubscribedNameBytesPerType = 10_000);
        var (channel, good) = await WellBehavedAsync(server);
        using var _ = channel;
        await using var __ = good;
        await using var client = server.DeltaAds("envoy-delta");
        var names = Names(120, 100);
        await client.RequestAsync(TypeUrls.Endpoint, names[..60]);
        var first = await client.NextAsync();
        // Unsubscribing gives the bytes back: 60 out, 60 in, still 6,000 bytes.
        await client.RequestAsync(TypeUrls.Endpoint, names[60..], names[..60], nonce: first.Nonce);
        await client.RequestAsync(TypeUrls.Cluster);
        // Requests are applied in order: once the cluster request shows, the swap before it was taken.
        await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().Any(s => s.NodeId == "envoy-delta" && s.Types.Any(t => t.TypeUrl == TypeUrls.Cluster)),
            "the swap and the cluster request applied");
        Assert.Equal(0, server.Engine.Metrics.RefusedCount(XdsRefusal.SubscriptionBytes));
        await client.RequestAsync(TypeUrls.Endpoint, names[..60]);
        Assert.Equal(StatusCode.ResourceExhausted, (await client.ExpectErrorAsync()).StatusCode);
        Assert.Equal(1, server.Engine.Metrics.RefusedCount(XdsRefusal.SubscriptionBytes));
        await StillPushedAsync(server, good);
    }

    [Fact]
    public async Task SubscribedNameCount_OverTheLimit_IsResourceExhausted_AndCounted()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxSubscribedNamesPerType = 100);
        var (channel, good) = await WellBehavedAsync(server);
        using var _ = channel;
        await using var __ = good;
        await using var client = server.DeltaAds("envoy-count");
        var names = Names(101, 20);
        await client.RequestAsync(TypeUrls.Endpoint, names[..50]);
        await client.NextAsync();
        await client.RequestAsync(TypeUrls.Endpoint, names[50..]);
        Assert.Equal(StatusCode.ResourceExhausted, (await client.ExpectErrorAsync()).StatusCode);
        Assert.Equal(1, server.Engine.Metrics.RefusedCount(XdsRefusal.SubscriptionNames));
        await StillPushedAsync(server, good);
    }

    [Fact]
    public async Task ANodeOverTheSizeLimit_IsResourceExhausted_AndOnlyItsNeededFieldsAreKept()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxNodeBytes = 4096);
        var (channel, good) = await WellBehavedAsync(server);
        await using (good)
        using (channel)
        {
            await using var fat = server.Ads("envoy-fat");
            fat.EditNode = n => n.Metadata = new Struct { Fields = { ["blob"] = Value.ForString(new string('m', 8000)) } };
            await fat.RequestAsync(TypeUrls.Cluster);
            var error = await fat.ExpectErrorAsync();
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.Contains("envoy-fat", error.Status.Detail, StringComparison.Ordinal);
            Assert.Equal(1, server.Engine.Metrics.RefusedCount(XdsRefusal.NodeBytes));
            await StillPushedAsync(server, good);
        }

        // Under the limit, metadata is accepted and dropped: the stream keeps id, cluster, user agent and features.
        await using var slim = server.Ads("envoy-slim");
        slim.EditNode = n => n.Metadata = new Struct { Fields = { ["blob"] = Value.ForString(new string('m', 1000)) } };
        await slim.SubscribeAsync(TypeUrls.Cluster);
        var stream = server.Engine.Connected().Single(s => s.NodeId == "envoy-slim");
        Assert.Equal("envoy", stream.UserAgent);
        Assert.Equal("1.37.0", stream.BuildVersion);
        Assert.Equal(["envoy.lb.does_not_support_overprovisioning"], stream.ClientFeatures);
        Assert.Equal(typeof(Engine.NodeSummary), typeof(Engine.XdsStream).GetProperty(nameof(Engine.XdsStream.NodeInfo))!.PropertyType);
    }

    [Fact]
    public async Task ConnectionsOverTheLimit_AreClosed_AndCounted()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxConnections = 2);
        var (channel, good) = await WellBehavedAsync(server);
        await using (good)
        using (channel)
        {
            using var secondChannel = GrpcChannel.ForAddress(server.Address);
            await using var second = SotwClient.Ads(secondChannel, "envoy-2");
            Assert.Equal(["a"], (await second.SubscribeAsync(TypeUrls.Cluster)).Names());

            using var thirdChannel = GrpcChannel.ForAddress(server.Address);
            await using var third = SotwClient.Ads(thirdChannel, "envoy-3");
            var error = await third.RequestExpectingErrorAsync(TypeUrls.Cluster);
            // Closed before any HTTP/2: the client reads it as UNAVAILABLE or INTERNAL, by timing; the counter says why.
            Assert.True(error.StatusCode is StatusCode.Unavailable or StatusCode.Internal, error.ToString());
            Assert.True(server.Engine.Metrics.RefusedCount(XdsRefusal.Connections) >= 1);
            await StillPushedAsync(server, good);
            using var exposition = new MemoryStream();
            await server.Engine.Metrics.Registry.CollectAndExportAsTextAsync(exposition);
            Assert.Contains("\nxds_connections 2\n", System.Text.Encoding.UTF8.GetString(exposition.ToArray()), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task StreamsOverTheLimitOnOneConnection_WaitForAFreeStream()
    {
        // HTTP/2 itself bounds the streams: the server announces SETTINGS_MAX_CONCURRENT_STREAMS and refuses a stream
        // beyond it; a conforming client (Envoy, grpc-dotnet) queues the call until a stream of the connection ends.
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxStreamsPerConnection = 2);
        using var channel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        });
        await using var first = SotwClient.Ads(channel, "envoy-1");
        await using var second = SotwClient.Ads(channel, "envoy-2");
        await first.SubscribeAsync(TypeUrls.Cluster);
        await second.SubscribeAsync(TypeUrls.Cluster);

        await using var third = SotwClient.Ads(channel, "envoy-3");
        var sent = third.RequestAsync(TypeUrls.Cluster).ContinueWith(t => t.Exception, TaskScheduler.Default);
        await third.ExpectNothingAsync();
        Assert.Equal(2, server.Engine.ConnectedCount);

        await first.DisposeAsync();
        Assert.Null(await sent);
        Assert.Equal(["a"], (await third.NextAsync()).Names());
        await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().Any(s => s.NodeId == "envoy-3"), "the queued stream served");
    }

    [Fact]
    public async Task AClientThatStopsReading_LosesItsStreamAtTheWriteDeadline_AndOthersGoOn()
    {
        // Well over the client's 64 KiB stream window: the write cannot finish while the client does not read.
        var big = Snap([.. Enumerable.Range(0, 1_500).SelectMany(i => Cluster($"cluster-{i:D4}-{new string('x', 150)}"))]);
        var logs = new RecordingLogs();
        await using var server = await XdsTestServer.StartAsync(big, o => o.WriteTimeout = TimeSpan.FromSeconds(2), logs: logs);
        using var goodChannel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions { MaxReceiveMessageSize = null });
        await using var good = SotwClient.Ads(goodChannel, "envoy-good");
        var initial = await good.SubscribeAsync(TypeUrls.Cluster);
        await good.AckAsync(initial);

        using var stuckChannel = GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = null,
            HttpHandler = new SocketsHttpHandler { InitialHttp2StreamWindowSize = 65_535 },
        });
        using var stuck = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(stuckChannel).StreamAggregatedResources();
        var subscribe = new DiscoveryRequest { TypeUrl = TypeUrls.Cluster, Node = new Envoy.Config.Core.V3.Node { Id = "envoy-stuck" } };
        await stuck.RequestStream.WriteAsync(subscribe).WaitAsync(Waits.Response);
        // Never read: the response stays in flight until the deadline resets the stream.
        await XdsTestServer.EventuallyAsync(() => server.Engine.Metrics.RefusedCount(XdsRefusal.WriteTimeout) == 1, "the write deadline passed",
            within: TimeSpan.FromSeconds(20));
        await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().All(s => s.NodeId != "envoy-stuck"), "the stuck stream released");
        Assert.Equal(1, logs.Count("WriteTimedOut"));

        // What the stuck client finds when it reads at last: what was buffered, then RESOURCE_EXHAUSTED.
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stuck.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Waits.Response))
            {
            }
        });
        Assert.Equal(StatusCode.ResourceExhausted, ended.StatusCode);

        // The well-behaved stream beside it was pushed to all along.
        var changed = Snap([.. Enumerable.Range(0, 1_501).SelectMany(i => Cluster($"cluster-{i:D4}-{new string('x', 150)}"))]);
        server.Set(changed);
        Assert.Contains("cluster-1500-" + new string('x', 150), (await good.NextAsync()).Names());
    }
}
