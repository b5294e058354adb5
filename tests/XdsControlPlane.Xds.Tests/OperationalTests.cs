using Google.Protobuf;
using System.Text.Json;
using Envoy.Service.Discovery.V3;
using Envoy.Service.Status.V3;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;
using RpcStatus = Google.Rpc.Status;

namespace XdsControlPlane.Xds.Tests;

/// <summary>The per-type services, garbage, disconnects, many clients, the snapshot cache and the debug views.</summary>
public sealed class OperationalTests
{
    private static Snapshot Base() => Snap(Cluster("a"), Cluster("b"), Listener("l1", 10000, "a"), Routes("r1", "b"));

    [Fact]
    public async Task PerTypeServices_KkpBootstrapWithSeparateLdsAndCdsStreams()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var cds = SotwClient.Cds(server.Channel);
        await using var lds = SotwClient.Lds(server.Channel);
        await using var rds = SotwClient.Rds(server.Channel);
        Assert.Equal(["a", "b"], (await cds.SubscribeAsync(TypeUrls.Cluster)).Names());
        var listeners = await lds.SubscribeAsync(TypeUrls.Listener);
        Assert.Equal(["l1"], listeners.Names());
        Assert.Equal(["r1"], (await rds.SubscribeAsync(TypeUrls.Route, "r1")).Names());
        await lds.AckAsync(listeners);
        server.Set(Snap(Cluster("a"), Cluster("b"), Cluster("c"), Listener("l1", 10000, "a"), Routes("r1", "b")));
        Assert.Equal(["a", "b", "c"], (await cds.NextAsync()).Names());
        await lds.ExpectNothingAsync();
        Assert.Equal(3, server.Engine.Connected().Count(s => s.NodeId == "envoy-1"));
    }

    [Fact]
    public async Task Delta_PerTypeClusterService()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = DeltaClient.Cds(server.Channel);
        await client.RequestAsync(TypeUrls.Cluster);
        Assert.Equal(["a", "b"], (await client.NextAsync()).Names());
    }

    [Fact]
    public async Task AResponseTheServerCannotBuild_EndsTheStreamWithInternal_NotAQuietOk()
    {
        // A server-side failure must not look like a clean end of stream (status OK): Envoy would reconnect
        // with nothing said. It is logged and the stream ends with INTERNAL.
        var broken = new Snapshot([new ResourceSet(TypeUrls.Cluster, [new EnvoyResource("a", new Unserialisable(), "v1")])]);
        await using var server = await XdsTestServer.StartAsync(broken);
        await using var client = server.Ads();
        await client.RequestAsync(TypeUrls.Cluster);
        Assert.Equal(StatusCode.Internal, (await client.ExpectErrorAsync()).StatusCode);
    }

    private sealed class Unserialisable : IMessage
    {
        public Google.Protobuf.Reflection.MessageDescriptor Descriptor => Envoy.Config.Cluster.V3.Cluster.Descriptor;

        public int CalculateSize() => throw new InvalidOperationException("cannot serialise");

        public void MergeFrom(CodedInputStream input) => throw new NotSupportedException();

        public void WriteTo(CodedOutputStream output) => throw new InvalidOperationException("cannot serialise");
    }

    [Fact]
    public async Task Garbage_WrongTypeOnAPerTypeService_IsInvalidArgument()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var lds = SotwClient.Lds(server.Channel);
        await lds.RequestAsync(TypeUrls.Cluster);
        Assert.Equal(StatusCode.InvalidArgument, (await lds.ExpectErrorAsync()).StatusCode);
    }

    [Fact]
    public async Task Garbage_UnknownTypeOverAds_IsIgnoredAndRecorded_TheStreamKeepsWorking()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        await client.RequestAsync("type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", ["x"]);
        await client.ExpectNothingAsync();
        Assert.Equal(["a", "b"], (await client.SubscribeAsync(TypeUrls.Cluster)).Names());
        Assert.Single(server.SingleStream().UnknownTypeUrls);
        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Contains("xds_unknown_type_requests_total 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_EmptyNodeOnTheFirstRequest_IsInvalidArgument()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        var call = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(server.Channel).StreamAggregatedResources();
        await call.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = TypeUrls.Cluster });
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Waits.Response));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);

        var delta = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(server.Channel).DeltaAggregatedResources();
        await delta.RequestStream.WriteAsync(new DeltaDiscoveryRequest { TypeUrl = TypeUrls.Cluster, Node = new Envoy.Config.Core.V3.Node() });
        ex = await Assert.ThrowsAsync<RpcException>(() => delta.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Waits.Response));
        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Empty(server.Engine.Connected());
    }

    [Fact]
    public async Task Garbage_AbsurdResourceLists_AreResourceExhausted()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxResourceNamesPerRequest = 1000);
        await using var client = server.Ads();
        await client.RequestAsync(TypeUrls.Endpoint, Enumerable.Range(0, 1001).Select(i => $"name-{i}"));
        Assert.Equal(StatusCode.ResourceExhausted, (await client.ExpectErrorAsync()).StatusCode);

        await using var delta = server.DeltaAds();
        await delta.RequestAsync(TypeUrls.Endpoint, initialVersions: Enumerable.Range(0, 1001).ToDictionary(i => $"n{i}", i => "v"));
        Assert.Equal(StatusCode.ResourceExhausted, (await delta.ExpectErrorAsync()).StatusCode);
    }

    [Fact]
    public async Task Garbage_NackStorm_IsRecordedBounded_AndNothingIsResent()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        var huge = new string('x', 100_000);
        for (var i = 0; i < 500; i++)
        {
            await client.SendAsync(new DiscoveryRequest
            {
                TypeUrl = TypeUrls.Cluster,
                ResponseNonce = cds.Nonce,
                ErrorDetail = new RpcStatus { Code = 3, Message = $"{i}: {huge}" },
            });
        }
        await client.ExpectNothingAsync();
        await XdsTestServer.EventuallyAsync(() => server.SingleStream().Types.Single().NackCount == 500, "500 NACKs counted");
        var status = server.SingleStream().Types.Single();
        Assert.StartsWith("InvalidArgument: 499: ", status.LastNack!.Message, StringComparison.Ordinal);
        Assert.True(status.LastNack.Message.Length <= 2049);
        Assert.Equal(500, server.Engine.Metrics.TotalNacks);
    }

    [Fact]
    public async Task ClientDisconnectsMidPush_TheServerReleasesTheStreamAndServesOthers()
    {
        var big = Snap(Enumerable.Range(0, 2000).Select(i => Cluster($"cluster-{i:D4}")).ToArray());
        await using var server = await XdsTestServer.StartAsync(big);
        await using var survivor = server.Ads("survivor");
        await using (var leaving = server.Ads("leaving"))
        {
            await leaving.RequestAsync(TypeUrls.Cluster);
            await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().Any(s => s.NodeId == "leaving"), "the stream is open");
            await leaving.RequestAsync(TypeUrls.Endpoint, Enumerable.Range(0, 2000).Select(i => $"cluster-{i:D4}"));
            leaving.Cancel();
        }
        Assert.Equal(2000, (await survivor.SubscribeAsync(TypeUrls.Cluster)).Resources.Count);
        await XdsTestServer.EventuallyAsync(() => server.Engine.Connected().All(s => s.NodeId != "leaving"), "the leaving stream is gone");
        // The engine drops a stream from the connected ones before it records it as disconnected: wait for both.
        await XdsTestServer.EventuallyAsync(() => server.Engine.RecentlyDisconnected().Any(s => s.NodeId == "leaving"), "the leaving stream is recorded");
    }

    [Fact]
    public async Task DisconnectedNodesLeaveOnlyABoundedStatusRecord()
    {
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.DisconnectedHistory = 5);
        for (var i = 0; i < 12; i++)
        {
            var node = $"node-{i}";
            await using (var client = server.Ads(node))
            {
                await client.SubscribeAsync(TypeUrls.Cluster);
            }
            // The server releases a closed stream in its own time: without waiting, two nodes' records could land
            // in either order.
            await XdsTestServer.EventuallyAsync(() => server.Engine.RecentlyDisconnected().Any(s => s.NodeId == node), $"{node} recorded");
        }
        Assert.Equal(0, server.Engine.ConnectedCount);
        Assert.Equal(["node-7", "node-8", "node-9", "node-10", "node-11"], server.Engine.RecentlyDisconnected().Select(s => s.NodeId));
    }

    [Fact]
    public async Task HundredClientsConnectingAtOnce_AllGetTheConfigAndTheNextChange()
    {
        // A hundred Envoys, here over one client connection (a real Envoy holds its own): the connection may carry
        // them all. With the default cap, streams opened before the server's SETTINGS arrive are refused.
        await using var server = await XdsTestServer.StartAsync(Base(), o => o.MaxStreamsPerConnection = 100);
        var clients = Enumerable.Range(0, 100).Select(i => server.Ads($"envoy-{i:D3}")).ToList();
        try
        {
            var first = await Task.WhenAll(clients.Select(c => c.SubscribeAsync(TypeUrls.Cluster)));
            Assert.All(first, r => Assert.Equal(["a", "b"], r.Names()));
            await Task.WhenAll(clients.Zip(first, (c, r) => c.AckAsync(r)));
            server.Set(Snap(Cluster("a"), Cluster("b"), Cluster("c"), Listener("l1", 10000, "a"), Routes("r1", "b")));
            var second = await Task.WhenAll(clients.Select(c => c.NextAsync()));
            Assert.All(second, r => Assert.Equal(["a", "b", "c"], r.Names()));
            Assert.Equal(100, server.Engine.ConnectedCount);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ASlowClientGetsTheNewestStateNotAQueueOfSnapshots()
    {
        await using var server = await XdsTestServer.StartAsync(Snap(Cluster("a")));
        await using var client = server.Ads();
        var first = await client.SubscribeAsync(TypeUrls.Endpoint, "a");
        for (var port = 1; port <= 200; port++)
        {
            server.Set(Snap(Cluster("a", port)));
        }
        var newest = server.Cache.Current.Snapshot.Get(TypeUrls.Endpoint).Version;
        var received = 0;
        Envoy.Service.Discovery.V3.DiscoveryResponse last;
        do
        {
            last = await client.NextAsync();
            received++;
        }
        while (last.VersionInfo != newest);
        Assert.True(received <= 200);
        Assert.Equal(200u, last.Resources.Single().Unpack<Envoy.Config.Endpoint.V3.ClusterLoadAssignment>()
            .Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue);
    }

    [Fact]
    public async Task SnapshotCache_RejectsAnInconsistentSnapshot_AndKeepsServingThePreviousOne()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads();
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        var before = server.Cache.Current;
        var broken = new Snapshot([new ResourceSet(TypeUrls.Listener, [new EnvoyResource("l1", Listener("l1", 10000, "missing"))])]);
        Assert.False(server.Cache.TrySetSnapshot(broken, out var problems));
        Assert.Contains(problems, p => p.Contains("missing", StringComparison.Ordinal));
        Assert.Same(before, server.Cache.Current);
        await client.ExpectNothingAsync();
        Assert.Contains("xds_snapshots_rejected_total 1", await server.Http.GetStringAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DebugEndpoints_SynczConfigDumpAndMetrics()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads("debug-node");
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        var lds = await client.SubscribeAsync(TypeUrls.Listener);
        await client.NackAsync(lds, "", "listener l1: port taken");
        await XdsTestServer.EventuallyAsync(() => server.SingleStream("debug-node").Types.Any(t => t.Status == SyncStatus.Error), "NACK recorded");

        using var syncz = JsonDocument.Parse(await server.Http.GetStringAsync("/debug/syncz"));
        var stream = syncz.RootElement.GetProperty("connected").EnumerateArray().Single();
        Assert.Equal("debug-node", stream.GetProperty("nodeId").GetString());
        var statuses = stream.GetProperty("types").EnumerateArray().ToDictionary(t => t.GetProperty("typeUrl").GetString()!, t => t.GetProperty("status").GetString());
        Assert.Equal("SYNCED", statuses[TypeUrls.Cluster]);
        Assert.Equal("ERROR", statuses[TypeUrls.Listener]);
        Assert.Contains("port taken", syncz.RootElement.ToString(), StringComparison.Ordinal);

        using var dump = JsonDocument.Parse(await server.Http.GetStringAsync("/debug/config_dump"));
        var clusters = dump.RootElement.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type_url").GetString() == TypeUrls.Cluster);
        var firstCluster = clusters.GetProperty("resources")[0].GetProperty("resource");
        Assert.Equal(TypeUrls.Cluster, firstCluster.GetProperty("@type").GetString());
        Assert.Equal("a", firstCluster.GetProperty("name").GetString());
        Assert.Contains("envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", dump.RootElement.ToString(), StringComparison.Ordinal);

        var metrics = await server.Http.GetStringAsync("/metrics");
        Assert.Contains("xds_connected_streams{protocol=\"sotw\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("xds_pushes_total{type=\"Cluster\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("xds_nacks_total{type=\"Listener\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("xds_push_latency_seconds_count", metrics, StringComparison.Ordinal);
        Assert.Contains($"xds_snapshot_info{{version=\"{server.Cache.Current.Snapshot.Version}\"}}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Csds_ReportsPerNodeConfigStatusFromAckAndNack()
    {
        await using var server = await XdsTestServer.StartAsync(Base());
        await using var client = server.Ads("csds-node");
        var cds = await client.SubscribeAsync(TypeUrls.Cluster);
        await client.AckAsync(cds);
        var lds = await client.SubscribeAsync(TypeUrls.Listener);
        await client.NackAsync(lds, "", "bad listener");
        await XdsTestServer.EventuallyAsync(() => server.SingleStream("csds-node").Types.Any(t => t.Status == SyncStatus.Error), "NACK recorded");

        var csds = new ClientStatusDiscoveryService.ClientStatusDiscoveryServiceClient(server.Channel);
        var response = await csds.FetchClientStatusAsync(new ClientStatusRequest()).ResponseAsync.WaitAsync(Waits.Response);
        var config = response.Config.Single();
        Assert.Equal("csds-node", config.Node.Id);
        var clusterA = config.GenericXdsConfigs.Single(g => g.TypeUrl == TypeUrls.Cluster && g.Name == "a");
        Assert.Equal(ConfigStatus.Synced, clusterA.ConfigStatus);
        Assert.Equal(Envoy.Admin.V3.ClientResourceStatus.Acked, clusterA.ClientStatus);
        Assert.Equal(cds.VersionInfo, clusterA.VersionInfo);
        var listener = config.GenericXdsConfigs.Single(g => g.TypeUrl == TypeUrls.Listener);
        Assert.Equal(ConfigStatus.Error, listener.ConfigStatus);
        Assert.Equal(Envoy.Admin.V3.ClientResourceStatus.Nacked, listener.ClientStatus);
        Assert.Contains("bad listener", listener.ErrorState.Details, StringComparison.Ordinal);

        using var stream = csds.StreamClientStatus();
        await stream.RequestStream.WriteAsync(new ClientStatusRequest());
        Assert.True(await stream.ResponseStream.MoveNext(CancellationToken.None).WaitAsync(Waits.Response));
        Assert.Single(stream.ResponseStream.Current.Config);
        await stream.RequestStream.CompleteAsync();
    }
}
