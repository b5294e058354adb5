using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using XdsControlPlane.Xds.Debug;
using XdsControlPlane.Xds.Engine;
using XdsControlPlane.Xds.Services;

namespace XdsControlPlane.Xds;

/// <summary>Wires the xDS server into a host in two lines: <c>services.AddXdsServer()</c> and <c>app.MapXdsServices()</c>.</summary>
public static class XdsServerExtensions
{
    private static readonly JsonSerializerOptions SynczJson = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseUpper) },
    };

    /// <summary>
    /// Registers the snapshot cache (set snapshots through <see cref="SnapshotCache.TrySetSnapshot(Snapshots.Snapshot)"/>),
    /// the protocol engine (also <see cref="IXdsStatus"/>), metrics and gRPC.
    /// </summary>
    public static IServiceCollection AddXdsServer(this IServiceCollection services, Action<XdsServerOptions>? configure = null)
    {
        services.AddOptions<XdsServerOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SnapshotCache>(sp => new SnapshotCache(
            sp.GetService<Microsoft.Extensions.Logging.ILogger<SnapshotCache>>(), sp.GetRequiredService<TimeProvider>()));
        // One registry per host (not prometheus-net's static default): two hosts in one process do not mix their series.
        services.TryAddSingleton(_ => Prometheus.Metrics.NewCustomRegistry());
        services.TryAddSingleton(sp => new XdsMetrics(sp.GetRequiredService<Prometheus.CollectorRegistry>()));
        services.TryAddSingleton<XdsEngine>(sp => new XdsEngine(
            sp.GetRequiredService<SnapshotCache>(), sp.GetRequiredService<XdsMetrics>(),
            sp.GetService<Microsoft.Extensions.Options.IOptions<XdsServerOptions>>(),
            sp.GetService<Microsoft.Extensions.Logging.ILogger<XdsEngine>>(), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IXdsStatus>(sp => sp.GetRequiredService<XdsEngine>());
        // Replies can be big snapshots; requests are bounded by XdsServerOptions.MaxRequestBytes (RESOURCE_EXHAUSTED beyond).
        services.AddGrpc(o => o.MaxSendMessageSize = 64 * 1024 * 1024);
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>()
            .Configure<Microsoft.Extensions.Options.IOptions<XdsServerOptions>>((grpc, xds) => grpc.MaxReceiveMessageSize = xds.Value.MaxRequestBytes);
        return services;
    }

    /// <summary>Maps ADS, the per-type discovery services (LDS, CDS, EDS, RDS, SRDS, ECDS) and CSDS.</summary>
    public static IEndpointRouteBuilder MapXdsServices(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<AdsService>();
        endpoints.MapGrpcService<LdsService>();
        endpoints.MapGrpcService<CdsService>();
        endpoints.MapGrpcService<EdsService>();
        endpoints.MapGrpcService<RdsService>();
        endpoints.MapGrpcService<SrdsService>();
        endpoints.MapGrpcService<EcdsService>();
        endpoints.MapGrpcService<CsdsService>();
        return endpoints;
    }

    /// <summary>GET /debug/syncz (JSON per node and type), /debug/config_dump (Envoy JSON). /metrics is <see cref="MapXdsMetrics"/>.</summary>
    public static IEndpointRouteBuilder MapXdsDebugEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/debug/syncz", (XdsEngine engine) =>
        {
            var current = engine.Cache.Current;
            return Results.Json(new
            {
                SnapshotVersion = current.Snapshot.Version,
                SnapshotGeneration = current.Generation,
                Connected = engine.Connected(),
                RecentlyDisconnected = engine.RecentlyDisconnected(),
            }, SynczJson);
        });
        endpoints.MapGet("/debug/config_dump", (SnapshotCache cache) =>
            Results.Text(ConfigDump.Render(cache.Current), "application/json"));
        return endpoints;
    }

    /// <summary>GET /metrics: every collector in the host's registry (xDS, source, enforcement), Prometheus text format.</summary>
    public static IEndpointConventionBuilder MapXdsMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        var engine = endpoints.ServiceProvider.GetRequiredService<XdsEngine>();
        engine.Metrics.Observe(engine.Cache);
        return Prometheus.MetricServerMiddlewareExtensions.MapMetrics(endpoints, pattern, engine.Metrics.Registry);
    }
}
