using System.Net;
using k8s;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Server.Debug;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Xds;
using XdsControlPlane.Xds.Transport;

namespace XdsControlPlane.Server.Hosting;

/// <summary>Builds the whole control plane: source → pipeline → snapshot cache → xDS, plus the debug endpoint.</summary>
public static class ControlPlaneApp
{
    /// <param name="kubernetesClient">The API server to use instead of the one the options name (tests: the API-server stand-in).</param>
    /// <param name="time">The clock of every component (tests: a hand-moved one).</param>
    public static WebApplication Build(ServerOptions options, KubernetesSourceOptions? kubernetesOptions = null,
        IKubernetes? kubernetesClient = null, TimeProvider? time = null)
    {
        // Whatever parsed the command line: a non-loopback listener without TLS never starts by accident.
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }
        ConfigureLogging(builder.Logging, options);
        ListenOptions? debugListener = null;
        ListenOptions? metricsListener = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // gRPC over HTTP/2 only: h2c by default (loopback), mutual TLS with the TLS files; connections and
            // streams per connection capped (XdsServerOptions).
            kestrel.ListenXds(options.ListenAddress, options.XdsTls);
            kestrel.Listen(options.DebugAddress, o =>
            {
                o.Protocols = HttpProtocols.Http1;
                debugListener = o;
            });
            kestrel.Listen(options.MetricsAddress, o =>
            {
                o.Protocols = HttpProtocols.Http1;
                metricsListener = o;
            });
            // Notice half-dead Envoy connections; Envoy pings too (connection_keepalive in the bootstraps).
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(10);
        });
        builder.Services.AddXdsServer(o =>
        {
            o.NodeId = options.EnvoyNodeName;
            o.NodeCluster = options.EnvoyClusterName;
        });
        builder.Services.AddSingleton(sp =>
        {
            var cache = sp.GetRequiredService<SnapshotCache>();
            return new ConfigPipeline(snapshot => cache.TrySetSnapshot(snapshot, out var problems) ? [] : problems,
                sp.GetRequiredService<ILogger<ConfigPipeline>>(), sp.GetRequiredService<TimeProvider>())
            {
                RevocationDelay = options.RevocationDelay,
                Applied = compiled => sp.GetRequiredService<EnforcementReporter>().OnApplied(compiled),
            };
        });
        builder.Services.AddSingleton(sp => new EnforcementReporter(sp.GetRequiredService<CollectorRegistry>(),
            sp.GetRequiredService<ILogger<EnforcementReporter>>(), () => sp.GetRequiredService<ConfigPipeline>().Diagnostics));
        var health = builder.Services.AddHealthChecks()
            .AddCheck<LoopsHealthCheck>("loops", tags: ["live"])
            .AddCheck<SnapshotReadyCheck>("snapshot", tags: ["ready"]);
        builder.Services.AddHostedService<RevocationDrainer>();
        if (kubernetesOptions is null)
        {
            builder.Services.AddSingleton(sp => new FolderSource(options.Input, sp.GetRequiredService<ILogger<FolderSource>>()));
            builder.Services.AddHostedService<FolderSourceService>();
        }
        else
        {
            var client = kubernetesClient ?? KubernetesSourceService.CreateClient(kubernetesOptions);
            builder.Services.AddSingleton(client);
            builder.Services.AddSingleton(sp => new KubernetesSource(client, kubernetesOptions, sp.GetRequiredService<ILogger<KubernetesSource>>(),
                sp.GetRequiredService<TimeProvider>()));
            builder.Services.AddSingleton(sp => new ClusterEventRecorder(client, sp.GetRequiredService<ILogger<ClusterEventRecorder>>(),
                new ClusterEventRecorderOptions
                {
                    Namespace = kubernetesOptions.EventNamespace,
                    RepeatInterval = kubernetesOptions.EventRepeatInterval,
                    SeedNamespace = kubernetesOptions.SeedNamespace,
                    SeedName = kubernetesOptions.SeedName,
                }, sp.GetRequiredService<TimeProvider>()));
            builder.Services.AddHostedService<KubernetesSourceService>();
            builder.Services.AddHostedService<EventWriterService>();
            health.AddCheck<InformersReadyCheck>("informers", tags: ["ready"]);
        }
        // Streams are closed cleanly on shutdown; Envoy keeps its last config and reconnects to another replica.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));

        var app = builder.Build();
        if (app.Services.GetService<KubernetesSource>() is { } kubernetesSource)
        {
            _ = new KubernetesSourceMetrics(kubernetesSource, app.Services.GetRequiredService<CollectorRegistry>(), app.Services.GetRequiredService<TimeProvider>());
        }
        _ = app.Services.GetRequiredService<EnforcementReporter>(); // its gauges exist (at zero) before the first snapshot
        app.MapXdsServices();
        // Debug views only on the debug listener (loopback by default): they show every tenant's policy. Told by the
        // local address the connection arrived on, never by the Host header, which the client writes.
        // Metrics and health likewise only on the metrics listener: what Prometheus and the kubelet reach shows no policy view.
        app.Use((context, next) =>
        {
            var metadata = context.GetEndpoint()?.Metadata;
            var allowed = metadata?.GetMetadata<DebugListenerOnly>() is not null
                ? debugListener?.IPEndPoint is { } debugBound && ArrivedOn(context.Connection, debugBound)
                : metadata?.GetMetadata<MetricsListenerOnly>() is null
                    || (metricsListener?.IPEndPoint is { } metricsBound && ArrivedOn(context.Connection, metricsBound));
            if (allowed)
            {
                return next(context);
            }
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        var metrics = app.MapGroup("").WithMetadata(new MetricsListenerOnly());
        metrics.MapXdsMetrics();
        metrics.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("live"), ResponseWriter = HealthResponse.WriteAsync });
        metrics.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = HealthResponse.WriteAsync });
        var debug = app.MapGroup("").WithMetadata(new DebugListenerOnly());
        debug.MapXdsDebugEndpoints();
        debug.MapTenantDebugEndpoints();
        debug.MapMemoryDebugEndpoint();
        debug.MapGet("/debug/source", (IServiceProvider sp) => sp.GetService<KubernetesSource>() is { } source
            ? Results.Json(source.GetStatus())
            : Results.Json(new { Source = "folder", Folder = sp.GetRequiredService<FolderSource>().Folder }));
        return app;
    }

    /// <summary>
    /// Logs for people: one line per event on the console (or one JSON object per line with <c>--log-format json</c>),
    /// at <c>--log-level</c>. ASP.NET Core's and gRPC's own categories are held at Warning (five info lines per debug
    /// request otherwise) unless <c>--log-level trace</c> asks for everything.
    /// </summary>
    public static void ConfigureLogging(ILoggingBuilder logging, ServerOptions options)
    {
        logging.ClearProviders();
        if (options.LogFormat == "json")
        {
            logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        logging.SetMinimumLevel(options.LogLevel);
        var frameworks = options.LogLevel == LogLevel.Trace ? LogLevel.Trace : (LogLevel)Math.Max((int)LogLevel.Warning, (int)options.LogLevel);
        logging.AddFilter("Microsoft.AspNetCore", frameworks);
        logging.AddFilter("Grpc", frameworks);
    }

    /// <summary>
    /// Whether a connection arrived on the listener bound to <paramref name="bound"/>: once bound, Kestrel holds the
    /// address actually bound there, so a port 0 (the OS chooses) compares as the port chosen.
    /// </summary>
    private static bool ArrivedOn(ConnectionInfo connection, IPEndPoint bound) =>
        connection.LocalPort == bound.Port
        && (bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any) || bound.Address.Equals(connection.LocalIpAddress));

    /// <summary>Marks the endpoints served on the debug listener only.</summary>
    private sealed class DebugListenerOnly;

    /// <summary>Marks the endpoints served on the metrics listener only.</summary>
    private sealed class MetricsListenerOnly;
}
