using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Engine;
using XdsControlPlane.Xds.Transport;

namespace XdsControlPlane.Xds.Tests.Infrastructure;

/// <summary>A real Kestrel on a loopback port chosen by the OS, h2c only, with the xDS server mapped as a host would.</summary>
internal sealed class XdsTestServer : IAsyncDisposable
{
    private XdsTestServer(WebApplication app, string address)
    {
        App = app;
        Address = address;
        Channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        Http = new HttpClient
        {
            BaseAddress = new Uri(address),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(10),
        };
    }

    public WebApplication App { get; }

    public string Address { get; }

    public GrpcChannel Channel { get; }

    public HttpClient Http { get; }

    public SnapshotCache Cache => App.Services.GetRequiredService<SnapshotCache>();

    public XdsEngine Engine => App.Services.GetRequiredService<XdsEngine>();

    /// <param name="tls">The TLS files: the listener then speaks mutual TLS only (<see cref="Address"/> is https).</param>
    /// <param name="logs">Where the server's log lines go, when a test reads them.</param>
    public static async Task<XdsTestServer> StartAsync(Snapshot? snapshot = null, Action<XdsServerOptions>? configure = null,
        XdsTlsFiles? tls = null, ILoggerProvider? logs = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }
        // The listener as the host configures it: HTTP/2 only, connections and streams capped, mTLS when given.
        builder.WebHost.ConfigureKestrel(k => k.ListenXds(new IPEndPoint(IPAddress.Loopback, 0), tls));
        builder.Services.AddXdsServer(configure);
        var app = builder.Build();
        app.MapXdsServices();
        app.MapXdsDebugEndpoints();
        app.MapXdsMetrics();
        if (snapshot is not null)
        {
            Assert.True(app.Services.GetRequiredService<SnapshotCache>().TrySetSnapshot(snapshot));
        }
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new XdsTestServer(app, address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
    }

    public void Set(Snapshot snapshot) => Assert.True(Cache.TrySetSnapshot(snapshot, out var problems), string.Join("; ", problems));

    public SotwClient Ads(string nodeId = "envoy-1") => SotwClient.Ads(Channel, nodeId);

    public DeltaClient DeltaAds(string nodeId = "envoy-1") => DeltaClient.Ads(Channel, nodeId);

    /// <summary>Polls until <paramref name="condition"/> holds (5 s at most, or <paramref name="within"/>): for server-side state that settles asynchronously.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(5));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    public XdsStreamStatus SingleStream(string nodeId = "envoy-1") => Engine.Connected().Single(s => s.NodeId == nodeId);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Channel.Dispose();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}
