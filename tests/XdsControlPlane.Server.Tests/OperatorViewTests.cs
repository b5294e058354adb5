using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Server.Debug;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Sources.Tests.KubernetesWatch;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// What operators and the kubelet see, over real HTTP on loopback: health and metrics on the metrics listener, the debug
/// views on every example seed, and Kubernetes Events written beside the publishing path, never on it.
/// </summary>
public sealed class OperatorViewTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly string Examples = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples");
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"xds-ops-{Guid.NewGuid():N}");
    private readonly List<WebApplication> _apps = [];
    private readonly HttpClient _http = new() { Timeout = Timeout };

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        _http.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    public static TheoryData<string> ExampleSeeds()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Examples).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(dir));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ExampleSeeds))]
    public async Task EveryDebugViewListedOnTheRootAnswersValidJson_OnEveryExampleSeed(string example)
    {
        CopyExample(example);
        var (_, debug, _) = await StartAsync();
        await Until(async () => (await _http.GetAsync(debug + "debug/tenants")).StatusCode == HttpStatusCode.OK, "first snapshot");

        var root = JsonDocument.Parse(await _http.GetStringAsync(debug));
        var listed = root.RootElement.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()!).ToList();
        var tenants = JsonDocument.Parse(await _http.GetStringAsync(debug + "debug/tenants")).RootElement.GetProperty("tenants");
        var tenant = tenants.EnumerateArray().First().GetProperty("id").GetString()!;
        var paths = listed.Select(p => p
            .Replace("{id}", tenant, StringComparison.Ordinal)
            .Replace("tenant=X&ip=A", $"tenant={tenant}&ip=192.0.2.1", StringComparison.Ordinal)).Prepend("/").ToList();
        Assert.Superset(TenantDebugEndpoints.ParameterlessViews.ToHashSet(), paths.ToHashSet());

        foreach (var path in paths)
        {
            using var response = await _http.GetAsync(debug + path.TrimStart('/'));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{example} {path}: {(int)response.StatusCode} {body}");
            using var _ = JsonDocument.Parse(body); // throws when it is not JSON
        }
        // /debug/seed says what was decided and from which object
        var seed = JsonDocument.Parse(await _http.GetStringAsync(debug + "debug/seed")).RootElement;
        Assert.Contains("annotation nodeport-proxy.k8s.io/cloud-provider", seed.GetProperty("providerSource").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(seed.GetProperty("sourceIpPreservedSource").GetString()));
        Assert.Equal(JsonValueKind.Array, seed.GetProperty("defaultAllowedRanges").ValueKind);
    }

    [Fact]
    public async Task NotReadyBeforeTheFirstSnapshot_SayingWhy_ReadyAfter_AndMetricsShowEnforcement()
    {
        CopyExample("aws-seed", except: "seed.yaml");
        var (_, debug, metrics) = await StartAsync();

        // No Seed: nothing is served, the replica is alive but not ready, and says why.
        await Until(async () => (await (await _http.GetAsync(metrics + "readyz")).Content.ReadAsStringAsync()).Contains("SeedMissing", StringComparison.Ordinal),
            "readyz names SeedMissing");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await _http.GetAsync(metrics + "readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(metrics + "healthz")).StatusCode);
        Assert.Contains("nodeport_proxy_seed_missing{reason=\"SeedMissing\"} 1", await _http.GetStringAsync(metrics + "metrics"), StringComparison.Ordinal);

        File.Copy(Path.Combine(Examples, "aws-seed", "seed.yaml"), Path.Combine(_folder, "seed.yaml"));
        await Until(async () => (await _http.GetAsync(metrics + "readyz")).StatusCode == HttpStatusCode.OK, "ready once the Seed is there");

        var text = await _http.GetStringAsync(metrics + "metrics");
        Assert.Matches("nodeport_proxy_tenants\\{enforcement=\"EnforcedDirect\"\\} [1-9]", text);
        Assert.Contains("nodeport_proxy_tenants{enforcement=\"NotEnforceableOpen\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("nodeport_proxy_tenant_info{tenant=\"k7x2m9p4qz\",enforcement=\"EnforcedDirect\"", text, StringComparison.Ordinal);
        Assert.Contains("nodeport_proxy_seed_missing{reason=\"SeedMissing\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("xds_snapshot_info{version=", text, StringComparison.Ordinal);

        // Scraping never reaches the policy views, and the debug port carries no metrics.
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(metrics + "debug/tenants")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(debug + "metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(debug + "readyz")).StatusCode);
    }

    [Fact]
    public async Task NotReadyWhileAnInformerHasHeardNothingForTwiceItsWatchdog()
    {
        await using var server = await FakeApiServer.StartAsync();
        server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(server, "a1", "203.0.113.0/24");
        var time = new ManualTimeProvider();
        var options = SourceHarness.TestOptions with { Debounce = TimeSpan.Zero, MaxDelay = TimeSpan.Zero, WatchdogTimeout = TimeSpan.FromSeconds(30) };
        var (_, _, metrics) = await StartAsync(options, server, time);

        await Until(async () => (await _http.GetAsync(metrics + "readyz")).StatusCode == HttpStatusCode.OK, "ready after the first snapshot");

        time.Advance(TimeSpan.FromSeconds(61));

        using var response = await _http.GetAsync(metrics + "readyz");
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("has heard nothing for 61s (allowed 60s", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(metrics + "healthz")).StatusCode); // a restart would not help
    }

    [Fact]
    public async Task APolicyChangeIsAppliedWhileAnEventWriteHangs()
    {
        await using var server = await FakeApiServer.StartAsync();
        server.Upsert("seeds", Objects.Seed());
        Objects.AddTenant(server, "a1", "10.0.0.1/8"); // host bits set: an Event is due
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        server.HoldWrites("events", gate.Task);
        await StartAsync(SourceHarness.TestOptions, server);
        var pipeline = _apps[0].Services.GetRequiredService<ConfigPipeline>();

        await Until(() => Task.FromResult(server.Requests.Any(r => r.Resource == "events" && r.Method == "POST")), "the Event write started (and hangs)");
        var version = pipeline.Current?.Snapshot.Version;

        server.Upsert("clusters", Objects.Cluster("a1", "Tunneling", "10.0.0.0/8"));

        await Until(() => Task.FromResult(pipeline.Current?.GetReport("a1") is { ServingLastGood: false, Enforcement: not Compiler.Rbac.Enforcement.Unrestricted }),
            "the corrected list applied");
        Assert.NotEqual(version, pipeline.Current!.Snapshot.Version);
        Assert.False(gate.Task.IsCompleted);
        Assert.Empty(server.Objects("events")); // the write is still hanging

        gate.SetResult();
        await Until(() => Task.FromResult(server.Objects("events").Any(e => e["reason"]!.GetValue<string>() == "InvalidCidr")), "the Event written once the API server answers");
    }

    private void CopyExample(string example, string? except = null)
    {
        foreach (var file in Directory.GetFiles(Path.Combine(Examples, example)).Where(f => Path.GetFileName(f) != except))
        {
            File.Copy(file, Path.Combine(_folder, Path.GetFileName(file)));
        }
    }

    private async Task<(string Xds, string Debug, string Metrics)> StartAsync(KubernetesSourceOptions? kubernetes = null, FakeApiServer? server = null,
        TimeProvider? time = null)
    {
        var app = ControlPlaneApp.Build(new ServerOptions
        {
            Input = _folder,
            ListenAddress = new IPEndPoint(IPAddress.Loopback, 0),
            DebugAddress = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsAddress = new IPEndPoint(IPAddress.Loopback, 0),
        }, kubernetes, server?.CreateClient(), time);
        _apps.Add(app);
        await app.StartAsync();
        // Kestrel reports the endpoints in the order they were configured: xDS, debug, metrics.
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        return (addresses[0] + "/", addresses[1] + "/", addresses[2] + "/");
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"not reached in time: {what}");
    }
}
