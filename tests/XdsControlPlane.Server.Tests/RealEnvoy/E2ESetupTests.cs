using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Envoy.Config.Listener.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Server.Hosting;

namespace XdsControlPlane.Server.Tests.RealEnvoy;

/// <summary>
/// What <see cref="RealEnvoyTests"/> relies on that can be checked without an Envoy: the rewritten bootstrap is still a
/// valid Envoy Bootstrap with only the two ports changed, the edited example compiles to the lists and listeners the
/// test expects, a client socket bound to 127.0.0.2 is seen as 127.0.0.2, and the tunnel client speaks HTTP/2 CONNECT
/// that a real HTTP/2 server (Kestrel) accepts.
/// </summary>
public sealed class E2ESetupTests
{
    [Fact]
    public void TheRewrittenBootstrapIsAValidEnvoyBootstrapWithOnlyThePortsChanged()
    {
        var shipped = File.ReadAllText(E2ESetup.BootstrapFile);
        var rewritten = EnvoyBootstrapTests.ParseStrict(E2ESetup.RewriteBootstrap(shipped, xdsPort: 41001, adminPort: 41002));
        Assert.Equal(41002u, rewritten.Admin.Address.SocketAddress.PortValue);
        var xds = rewritten.StaticResources.Clusters.Single(c => c.Name == "xds_cluster");
        Assert.Equal(41001u, xds.LoadAssignment.Endpoints.Single().LbEndpoints.Single().Endpoint.Address.SocketAddress.PortValue);

        // Put the shipped ports back: the rest is the shipped bootstrap, field for field.
        var original = EnvoyBootstrapTests.ParseStrict(shipped);
        rewritten.Admin.Address.SocketAddress.PortValue = original.Admin.Address.SocketAddress.PortValue;
        xds.LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue =
            original.StaticResources.Clusters.Single(c => c.Name == "xds_cluster").LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.PortValue;
        Assert.Equal(original, rewritten);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the executable bit is a Unix file mode
    public void TheEnvoyTestIsSkippedWithAReasonUnlessEnvoyBinNamesAnExecutable()
    {
        Assert.Contains("ENVOY_BIN is not set", EnvoyFactAttribute.SkipReason(null), StringComparison.Ordinal);
        Assert.Contains("ENVOY_BIN is not set", EnvoyFactAttribute.SkipReason(" "), StringComparison.Ordinal);
        Assert.Contains("does not exist", EnvoyFactAttribute.SkipReason($"/nonexistent/{Guid.NewGuid():N}/envoy"), StringComparison.Ordinal);
        var file = Path.GetTempFileName();
        try
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            Assert.Contains("is not executable", EnvoyFactAttribute.SkipReason(file), StringComparison.Ordinal);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Assert.Null(EnvoyFactAttribute.SkipReason(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("127.0.0.2")]
    [InlineData("127.0.0.3")]
    public async Task AClientBoundToALoopbackAddressIsSeenFromIt(string source)
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            using var client = await E2ESetup.ConnectFrom(IPAddress.Parse(source), ((IPEndPoint)listener.LocalEndpoint).Port, CancellationToken.None);
            using var accepted = await listener.AcceptSocketAsync();
            Assert.Equal(IPAddress.Parse(source), ((IPEndPoint)accepted.RemoteEndPoint!).Address);
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task TheEditedExampleCompilesToTheListsAndListenersTheTestExpects()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"xds-envoy-setup-{Guid.NewGuid():N}");
        const int upstreamPort = 45123, nodePort = 45124;
        E2ESetup.PrepareFolder(folder, upstreamPort, nodePort, "15s");
        var app = ControlPlaneApp.Build(new ServerOptions
        {
            Input = folder,
            ListenAddress = new IPEndPoint(IPAddress.Loopback, 0),
            DebugAddress = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsAddress = new IPEndPoint(IPAddress.Loopback, 0),
            RevocationDelay = TimeSpan.FromSeconds(1),
        });
        try
        {
            await app.StartAsync();
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
            using var debug = new HttpClient { BaseAddress = new Uri(addresses[1]) };
            await Verdict(debug, E2ESetup.Allowed, allowed: true);
            await Verdict(debug, E2ESetup.Denied, allowed: false);
            var seed = await debug.GetFromJsonAsync<JsonElement>("/debug/seed");
            // The real-Envoy test checks these are free before it starts Envoy.
            Assert.Equal(E2ESetup.FixedListenerPorts, new[] { seed.GetProperty("sniPort").GetInt32(), seed.GetProperty("tunnelingPort").GetInt32(), seed.GetProperty("statsPort").GetInt32() });
            Assert.Contains("15", seed.GetProperty("maxConnectionDuration").ToString(), StringComparison.Ordinal);

            // What Envoy would be sent: the three paths of the test, the node port as edited, the upstream as its endpoint.
            using var channel = GrpcChannel.ForAddress(addresses[0]);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var ads = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
            using var stream = ads.StreamAggregatedResources(cancellationToken: cts.Token);
            var node = new Envoy.Config.Core.V3.Node { Id = "kube", Cluster = "np-cluster" };
            await stream.RequestStream.WriteAsync(new DiscoveryRequest { Node = node, TypeUrl = Snapshots.TypeUrls.Cluster });
            await stream.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = Snapshots.TypeUrls.Listener });
            List<Listener>? listeners = null;
            List<Envoy.Config.Cluster.V3.Cluster>? clusters = null;
            while (listeners is null || clusters is null)
            {
                Assert.True(await stream.ResponseStream.MoveNext(cts.Token));
                var response = stream.ResponseStream.Current;
                if (response.TypeUrl == Snapshots.TypeUrls.Listener)
                {
                    listeners = [.. response.Resources.Select(r => r.Unpack<Listener>())];
                }
                else if (response.TypeUrl == Snapshots.TypeUrls.Cluster)
                {
                    clusters = [.. response.Resources.Select(r => r.Unpack<Envoy.Config.Cluster.V3.Cluster>())];
                }
            }
            Assert.Contains(listeners, l => l.Name == "sni_listener" && l.Address.SocketAddress.PortValue == 6443
                && l.FilterChains.Any(c => c.FilterChainMatch?.ServerNames.Contains(E2ESetup.Hostname) == true));
            Assert.Contains(listeners, l => l.Name == "tunneling_listener" && l.Address.SocketAddress.PortValue == 8088);
            Assert.Contains(listeners, l => l.Name == E2ESetup.NodePortListener && l.Address.SocketAddress.PortValue == nodePort);
            // The tenant's clusters are EDS: ask for their assignments, as Envoy does after CDS.
            var names = clusters.Where(c => c.Name.Contains("cluster-" + E2ESetup.Tenant, StringComparison.Ordinal))
                .Select(c => string.IsNullOrEmpty(c.EdsClusterConfig?.ServiceName) ? c.Name : c.EdsClusterConfig.ServiceName).ToList();
            Assert.NotEmpty(names);
            await stream.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = Snapshots.TypeUrls.Endpoint, ResourceNames = { names } });
            List<Envoy.Config.Endpoint.V3.ClusterLoadAssignment>? assignments = null;
            while (assignments is null)
            {
                Assert.True(await stream.ResponseStream.MoveNext(cts.Token));
                if (stream.ResponseStream.Current.TypeUrl == Snapshots.TypeUrls.Endpoint)
                {
                    assignments = [.. stream.ResponseStream.Current.Resources.Select(r => r.Unpack<Envoy.Config.Endpoint.V3.ClusterLoadAssignment>())];
                }
            }
            var endpoints = assignments.SelectMany(a => a.Endpoints.SelectMany(e => e.LbEndpoints)).Select(e => e.Endpoint.Address.SocketAddress).ToList();
            Assert.NotEmpty(endpoints);
            Assert.All(endpoints, a => Assert.Equal(("127.0.0.1", (uint)upstreamPort), (a.Address, a.PortValue)));
            cts.Cancel();

            E2ESetup.Narrow(folder);
            await Verdict(debug, E2ESetup.Allowed, allowed: false);
            await Verdict(debug, E2ESetup.Denied, allowed: false);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task TheTunnelClientOpensAConnectTunnelOnARealHttp2Server()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MinRequestBodyDataRate = null; // a tunnel is idle until its client writes
            k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2);
        });
        await using var server = builder.Build();
        var authorities = new List<string>();
        server.Run(async context =>
        {
            lock (authorities)
            {
                authorities.Add($"{context.Request.Method} {context.Request.Host} {context.Connection.RemoteIpAddress}");
            }
            if (context.Request.Host.Value != E2ESetup.TunnelAuthority)
            {
                context.Response.StatusCode = 403;
                await context.Response.WriteAsync("denied");
                return;
            }
            context.Response.StatusCode = 200;
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            await context.Request.Body.CopyToAsync(context.Response.Body); // the echo upstream, in the server itself
        });
        await server.StartAsync();
        var port = new Uri(server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()).Port;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await using (var tunnel = await H2Tunnel.Open(E2ESetup.Allowed, port, E2ESetup.TunnelAuthority, cts.Token))
        {
            Assert.Equal("200", tunnel.Status);
            await tunnel.Send("through the tunnel\n", cts.Token);
            while (!tunnel.Received.Contains("through the tunnel", StringComparison.Ordinal))
            {
                Assert.False(tunnel.Ended.IsCompleted, "the tunnel ended before the echo");
                await Task.Delay(20, cts.Token);
            }
        }
        await using (var refused = await H2Tunnel.Open(E2ESetup.Denied, port, "elsewhere.cluster-x.svc.cluster.local:443", cts.Token))
        {
            Assert.NotEqual("200", refused.Status);
            await refused.Ended.WaitAsync(cts.Token);
        }
        Assert.Equal([$"CONNECT {E2ESetup.TunnelAuthority} 127.0.0.2", "CONNECT elsewhere.cluster-x.svc.cluster.local:443 127.0.0.3"], authorities);
        await server.StopAsync();
    }

    private static async Task Verdict(HttpClient debug, IPAddress source, bool allowed)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90); // a first compile on a loaded 2-core machine is slow
        JsonElement verdict = default;
        while (DateTime.UtcNow < deadline)
        {
            var response = await debug.GetAsync($"/debug/allow?tenant={E2ESetup.Tenant}&ip={source}");
            if (response.IsSuccessStatusCode)
            {
                verdict = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (verdict.GetProperty("allowed").GetBoolean() == allowed && verdict.GetProperty("enforced").GetBoolean())
                {
                    return;
                }
            }
            await Task.Delay(100);
        }
        Assert.Fail($"/debug/allow for {source}: expected allowed={allowed} and enforced, last answer {verdict}");
    }
}
