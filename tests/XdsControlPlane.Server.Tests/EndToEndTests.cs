using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Envoy.Config.Listener.V3;
using Envoy.Service.Discovery.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Hosting.Server.Features;
using XdsControlPlane.Server.Hosting;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// The real executable's pipeline, end to end: a folder of manifests → translation → compiler → cache →
/// ADS over real HTTP/2 on loopback, and the debug endpoint over HTTP/1. Edits to the folder reach the
/// ADS client; a bad edit never does.
/// </summary>
public sealed class EndToEndTests : IAsyncLifetime
{
    private const string Tenant = "k7x2m9p4qz";
    private const string Hostname = "k7x2m9p4qz.europe-central.dev.kubermatic.io";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"xds-e2e-{Guid.NewGuid():N}");
    private WebApplication _app = null!;
    private GrpcChannel _channel = null!;
    private HttpClient _debug = null!;
    private string _xdsAddress = null!;

    /// <summary>The last response of each type on this test's stream (its nonce and version go in a subscription change).</summary>
    private readonly Dictionary<string, DiscoveryResponse> _lastSeen = new(StringComparer.Ordinal);

    public async Task InitializeAsync()
    {
        var example = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed");
        Directory.CreateDirectory(_folder);
        foreach (var file in Directory.GetFiles(example))
        {
            File.Copy(file, Path.Combine(_folder, Path.GetFileName(file)));
        }
        _app = ControlPlaneApp.Build(new ServerOptions
        {
            Input = _folder,
            ListenAddress = new IPEndPoint(IPAddress.Loopback, 0),
            DebugAddress = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsAddress = new IPEndPoint(IPAddress.Loopback, 0), // tests run side by side: never the fixed default port
            RevocationDelay = TimeSpan.FromSeconds(1),
        });
        await _app.StartAsync();
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        // Kestrel reports the endpoints in the order they were configured: xDS first, then debug.
        _xdsAddress = addresses[0];
        _channel = GrpcChannel.ForAddress(addresses[0]);
        _debug = new HttpClient { BaseAddress = new Uri(addresses[1]), Timeout = Timeout };
        // The folder is read by a hosted service after start: the views answer 503 until its first snapshot is
        // applied, so every test starts from a served snapshot instead of racing the first compile.
        var pipeline = _app.Services.GetRequiredService<Compiler.Pipeline.ConfigPipeline>();
        // A first compile on a loaded 2-core machine (other test projects run beside this one) has taken over 15 s.
        await Eventually(() => Task.FromResult<object?>(pipeline.Current), TimeSpan.FromSeconds(90));
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        _debug.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task TheExampleSeedIsServedOverAdsAndFolderEditsArePushed()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var client = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(_channel);
        using var stream = client.StreamAggregatedResources(cancellationToken: cts.Token);
        var node = new Envoy.Config.Core.V3.Node { Id = "kube", Cluster = "np-cluster" };
        await stream.RequestStream.WriteAsync(new DiscoveryRequest { Node = node, TypeUrl = Snapshots.TypeUrls.Listener });
        var first = await NextOfType(stream, Snapshots.TypeUrls.Listener, cts.Token);
        var names = first.Resources.Select(r => r.Unpack<Listener>().Name).ToList();
        Assert.Contains("sni_listener", names);
        Assert.Contains("tunneling_listener", names);
        Assert.Contains("service_stats", names);
        Assert.Contains("cluster-b5n8w3r6tj/apiserver-external-secure", names); // a NodePort listener
        await Ack(stream, first);
        var rbac = await SniRbac(stream, first, cts.Token);
        Assert.Contains(rbac.Rules.Policies.Values.SelectMany(p => p.Principals), p => p.DirectRemoteIp?.AddressPrefix == "203.0.113.0");

        // Narrow the tenant's list in the folder: the change must reach the stream.
        var clusters = Path.Combine(_folder, "clusters.yaml");
        await File.WriteAllTextAsync(clusters, (await File.ReadAllTextAsync(clusters)).Replace("- 203.0.113.0/24", "- 203.0.113.0/25", StringComparison.Ordinal));
        // First the narrower list under the same filter name (new connections are refused at once), with no
        // listener change; then, once the revocation delay has passed, the drain: the tenant's chain itself
        // changes (its filter is renamed, so Envoy drains it) and the listener is re-sent.
        var sameName = await NextOfType(stream, Snapshots.TypeUrls.ExtensionConfig, cts.Token, refuse: Snapshots.TypeUrls.Listener);
        var atOnce = sameName.Resources.Select(r => r.Unpack<Envoy.Config.Core.V3.TypedExtensionConfig>()).Single().TypedConfig.Unpack<NetworkRbac>();
        Assert.DoesNotContain(atOnce.Rules.Policies.Values.SelectMany(p => p.Principals), p => p.DirectRemoteIp?.AddressPrefix == "203.0.113.0" && p.DirectRemoteIp.PrefixLen == 24);
        await Ack(stream, sameName, sameName.Resources.Select(r => r.Unpack<Envoy.Config.Core.V3.TypedExtensionConfig>()).Single().Name);
        var second = await NextOfType(stream, Snapshots.TypeUrls.Listener, cts.Token);
        Assert.NotEqual(first.VersionInfo, second.VersionInfo);
        await Ack(stream, second);
        var narrowed = await SniRbac(stream, second, cts.Token);
        var prefixes = narrowed.Rules.Policies.Values.SelectMany(p => p.Principals).Select(p => $"{p.DirectRemoteIp?.AddressPrefix}/{p.DirectRemoteIp?.PrefixLen}").ToList();
        Assert.Contains("203.0.113.0/25", prefixes);
        Assert.DoesNotContain("203.0.113.0/24", prefixes);

        var verdict = await _debug.GetFromJsonAsync<JsonElement>($"/debug/allow?tenant={Tenant}&ip=203.0.113.200");
        Assert.False(verdict.GetProperty("allowed").GetBoolean());
        Assert.True(verdict.GetProperty("enforced").GetBoolean());

        // A bad edit: the error is reported with object and field, nothing is pushed, the last good list stays.
        await File.WriteAllTextAsync(clusters, (await File.ReadAllTextAsync(clusters)).Replace("- 203.0.113.0/25", "- 203.0.113.7/25", StringComparison.Ordinal));
        var diagnostics = await Eventually(async () =>
        {
            var json = await _debug.GetFromJsonAsync<JsonElement>("/debug/diagnostics");
            var all = json.GetProperty("diagnostics").EnumerateArray().ToList();
            return all.Any(d => d.GetProperty("code").GetString() == "InvalidCidr") ? all : null;
        });
        Assert.Contains(diagnostics, d => d.GetProperty("object").GetString() == $"Cluster/{Tenant}"
            && d.GetProperty("field").GetString()!.StartsWith("spec.apiServerAllowedIPRanges.cidrBlocks[", StringComparison.Ordinal));
        var report = await _debug.GetFromJsonAsync<JsonElement>($"/debug/tenants/{Tenant}");
        Assert.True(report.GetProperty("servingLastGood").GetBoolean());
        var noPush = stream.ResponseStream.MoveNext(cts.Token);
        Assert.NotSame(noPush, await Task.WhenAny(noPush, Task.Delay(TimeSpan.FromMilliseconds(800), cts.Token)));

        var syncz = await _debug.GetFromJsonAsync<JsonElement>("/debug/syncz");
        Assert.Contains("SYNCED", syncz.ToString(), StringComparison.Ordinal);
        cts.Cancel();
    }

    [Fact]
    public async Task ATenantComingAndGoingChangesTheScopesButNeverTheTunnelingListener()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var client = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(_channel);
        using var stream = client.StreamAggregatedResources(cancellationToken: cts.Token);
        var node = new Envoy.Config.Core.V3.Node { Id = "kube", Cluster = "np-cluster" }; // the only node served (--envoy-node-name)
        // As Envoy: LDS and SRDS as wildcards (SRDS because the tunneling listener's HCM names scoped_rds).
        await stream.RequestStream.WriteAsync(new DiscoveryRequest { Node = node, TypeUrl = Snapshots.TypeUrls.Listener }, cts.Token);
        var listeners = await NextOfType(stream, Snapshots.TypeUrls.Listener, cts.Token);
        await Ack(stream, listeners);
        var tunneling = TunnelingListener(listeners);
        var hcm = Listener.Parser.ParseFrom(tunneling).FilterChains.Single().Filters.Single().TypedConfig
            .Unpack<Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManager>();
        Assert.NotNull(hcm.ScopedRoutes.ScopedRds);
        await stream.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = Snapshots.TypeUrls.ScopedRoute }, cts.Token);
        var scopes = await NextOfType(stream, Snapshots.TypeUrls.ScopedRoute, cts.Token);
        await Ack(stream, scopes);
        Assert.Contains("http2_connect/cluster-c9v4h2l7xd", ScopeNames(scopes));

        // A tenant comes (its Services appear in the folder): one more scope; the tunneling listener's bytes stay.
        const string id = "n3wt3n4ntx";
        var file = Path.Combine(_folder, $"tenant-{id}.yaml");
        var template = await File.ReadAllTextAsync(Path.Combine(_folder, "tenant-c9v4h2l7xd.yaml"));
        // A tenant is its Cluster object and its Services (Services without their Cluster are never served).
        const string cluster = "apiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata:\n  name: " + id + "\nspec:\n  exposeStrategy: Tunneling\n---\n";
        await File.WriteAllTextAsync(file, cluster + template.Replace("c9v4h2l7xd", id, StringComparison.Ordinal).Replace("30201", "30299", StringComparison.Ordinal));
        var (grown, listenersSeen) = await NextScopes(stream, cts.Token);
        Assert.Equal([.. ScopeNames(scopes), $"http2_connect/cluster-{id}"], ScopeNames(grown).Order(StringComparer.Ordinal));
        Assert.NotEmpty(listenersSeen); // its SNI chain joins sni_listener: LDS is sent, with tunneling_listener as it was
        Assert.All(listenersSeen, l => Assert.Equal(tunneling, TunnelingListener(l)));

        // It goes: its scope is left out of the (full) SRDS state; the tunneling listener's bytes still stay.
        File.Delete(file);
        var (shrunk, listenersSeenAgain) = await NextScopes(stream, cts.Token);
        Assert.Equal(ScopeNames(scopes), ScopeNames(shrunk).Order(StringComparer.Ordinal));
        Assert.NotEmpty(listenersSeenAgain);
        Assert.All(listenersSeenAgain, l => Assert.Equal(tunneling, TunnelingListener(l)));
        cts.Cancel();

        static Google.Protobuf.ByteString TunnelingListener(DiscoveryResponse lds) =>
            lds.Resources.Single(r => r.Unpack<Listener>().Name == "tunneling_listener").Value;

        static List<string> ScopeNames(DiscoveryResponse srds) =>
            [.. srds.Resources.Select(r => r.Unpack<Envoy.Config.Route.V3.ScopedRouteConfiguration>().Name).Order(StringComparer.Ordinal)];
    }

    /// <summary>The next SRDS response, with every LDS response that came before it; everything is ACKed, as Envoy would.</summary>
    private async Task<(DiscoveryResponse Scopes, List<DiscoveryResponse> Listeners)> NextScopes(
        AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> stream, CancellationToken token)
    {
        var listeners = new List<DiscoveryResponse>();
        while (true)
        {
            var response = await Next(stream, token);
            await Ack(stream, response);
            if (response.TypeUrl == Snapshots.TypeUrls.ScopedRoute)
            {
                return (response, listeners);
            }
            if (response.TypeUrl == Snapshots.TypeUrls.Listener)
            {
                listeners.Add(response);
            }
        }
    }

    [Theory]
    [InlineData("/debug/tenants")]
    [InlineData("/debug/syncz")]
    [InlineData("/")]
    public async Task TheDebugViewsAnswerOnlyOnTheDebugListener_WhateverTheHostHeaderSays(string path)
    {
        using var xds = new HttpClient { BaseAddress = new Uri(_xdsAddress), Timeout = Timeout };
        var (xdsAuthority, debugAuthority) = (xds.BaseAddress.Authority, _debug.BaseAddress!.Authority);
        // The xDS listener is h2c only: the same requests Envoy's connection could carry.
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(xds, path, HttpVersion.Version20, host: null));
        Assert.Equal(HttpStatusCode.NotFound, await StatusOf(xds, path, HttpVersion.Version20, host: debugAuthority)); // forged
        Assert.Equal(HttpStatusCode.OK, await StatusOf(_debug, path, HttpVersion.Version11, host: xdsAuthority));
    }

    private static async Task<HttpStatusCode> StatusOf(HttpClient client, string path, Version version, string? host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Host = host;
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>The tenant's SNI RBAC: inline, or (ECDS) fetched over the same ADS stream by the filter's name, as Envoy does.</summary>
    private async Task<NetworkRbac> SniRbac(AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> stream, DiscoveryResponse listeners, CancellationToken token)
    {
        var listener = listeners.Resources.Select(r => r.Unpack<Listener>()).Single(l => l.Name == "sni_listener");
        var chain = listener.FilterChains.Single(c => c.FilterChainMatch.ServerNames.Contains(Hostname));
        var filter = chain.Filters.First();
        if (filter.ConfigDiscovery is null)
        {
            return filter.TypedConfig.Unpack<NetworkRbac>();
        }
        Assert.Contains("type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC", filter.ConfigDiscovery.TypeUrls);
        // A subscription change carries the latest nonce and version of its type, as Envoy's does.
        _lastSeen.TryGetValue(Snapshots.TypeUrls.ExtensionConfig, out var seen);
        await stream.RequestStream.WriteAsync(new DiscoveryRequest
        {
            TypeUrl = Snapshots.TypeUrls.ExtensionConfig,
            ResourceNames = { filter.Name },
            ResponseNonce = seen?.Nonce ?? "",
            VersionInfo = seen?.VersionInfo ?? "",
        }, token);
        while (true)
        {
            var response = await NextOfType(stream, Snapshots.TypeUrls.ExtensionConfig, token);
            await Ack(stream, response, filter.Name);
            var config = response.Resources.Select(r => r.Unpack<Envoy.Config.Core.V3.TypedExtensionConfig>()).FirstOrDefault(c => c.Name == filter.Name);
            if (config is not null)
            {
                return config.TypedConfig.Unpack<NetworkRbac>();
            }
        }
    }

    /// <summary>The next response of <paramref name="typeUrl"/>, acknowledging any other type that comes first (as Envoy would).</summary>
    private async Task<DiscoveryResponse> NextOfType(AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> stream, string typeUrl, CancellationToken token,
        string? refuse = null)
    {
        while (true)
        {
            var response = await Next(stream, token);
            if (response.TypeUrl == typeUrl)
            {
                return response;
            }
            Assert.NotEqual(refuse, response.TypeUrl);
            await Ack(stream, response);
        }
    }

    private async Task<DiscoveryResponse> Next(AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> stream, CancellationToken token)
    {
        var move = stream.ResponseStream.MoveNext(token);
        var done = await Task.WhenAny(move, Task.Delay(Timeout, token));
        Assert.True(done == move && await move, "no response from the server in time");
        _lastSeen[stream.ResponseStream.Current.TypeUrl] = stream.ResponseStream.Current;
        return stream.ResponseStream.Current;
    }

    private static Task Ack(AsyncDuplexStreamingCall<DiscoveryRequest, DiscoveryResponse> stream, DiscoveryResponse response, params string[] names) =>
        stream.RequestStream.WriteAsync(new DiscoveryRequest { TypeUrl = response.TypeUrl, VersionInfo = response.VersionInfo, ResponseNonce = response.Nonce, ResourceNames = { names } });

    private static async Task<T> Eventually<T>(Func<Task<T?>> probe, TimeSpan? patience = null) where T : class
    {
        var deadline = DateTime.UtcNow + (patience ?? Timeout);
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("condition not reached in time");
    }
}
