using System.Net;
using System.Net.Http;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds;
using XdsControlPlane.Xds.Engine;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// A real Kestrel on a loopback port chosen by the OS, h2c only, with the xDS server mapped as the host
/// maps it (the pattern of the Xds tests' XdsTestServer). Logging is off: 1,000 streams would log every push.
/// </summary>
internal sealed class XdsBenchServer : IAsyncDisposable
{
    private XdsBenchServer(WebApplication app, string address)
    {
        App = app;
        Address = address;
    }

    public WebApplication App { get; }

    public string Address { get; }

    public SnapshotCache Cache => App.Services.GetRequiredService<SnapshotCache>();

    public IXdsStatus Status => App.Services.GetRequiredService<IXdsStatus>();

    public XdsEngine Engine => App.Services.GetRequiredService<XdsEngine>();

    public static async Task<XdsBenchServer> StartAsync(Snapshot snapshot)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Clients use many channels anyway; the raised limit only removes a trap, it changes no figure.
            k.Limits.Http2.MaxStreamsPerConnection = 1_000;
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddXdsServer();
        var app = builder.Build();
        app.MapXdsServices();
        if (!app.Services.GetRequiredService<SnapshotCache>().TrySetSnapshot(snapshot, out var problems))
        {
            throw new InvalidOperationException(string.Join("; ", problems));
        }
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new XdsBenchServer(app, address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
    }

    public void Set(Snapshot snapshot)
    {
        if (!Cache.TrySetSnapshot(snapshot, out var problems))
        {
            throw new InvalidOperationException(string.Join("; ", problems));
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(stop.Token);
        await App.DisposeAsync();
    }
}

/// <summary>HTTP/2 channels for many streams: each channel is one connection, so streams are multiplexed on it.</summary>
internal static class BenchChannels
{
    /// <summary>Streams per connection: below Kestrel's default <c>MaxStreamsPerConnection</c> (100).</summary>
    public const int StreamsPerChannel = 50;

    public static GrpcChannel Create(string address) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        MaxReceiveMessageSize = 64 * 1024 * 1024,
        HttpHandler = new SocketsHttpHandler
        {
            // Envoy's default HTTP/2 windows are 256 MiB; .NET's 64 KiB start would add round trips to every push.
            InitialHttp2StreamWindowSize = 16 * 1024 * 1024,
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        },
    });

    /// <summary>Enough channels for <paramref name="streams"/> streams at <see cref="StreamsPerChannel"/> each.</summary>
    public static GrpcChannel[] For(string address, int streams) =>
        [.. Enumerable.Range(0, (streams + StreamsPerChannel - 1) / StreamsPerChannel).Select(_ => Create(address))];
}
