using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
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
    public static WebApplication Build(ServerOptions options, KubernetesSourceOptions? kubernetesOptions = null)
    {
        // Whatever parsed the command line: a non-loopback listener without TLS never starts by accident.
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        ConfigureLogging(builder.Logging, options);
        ListenOptions? debugListener = null;
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
            };
        });
        builder.Services.AddHostedService<RevocationDrainer>();
        if (kubernetesOptions is null)
        {
            builder.Services.AddSingleton(sp => new FolderSource(options.Input, sp.GetRequiredService<ILogger<FolderSource>>()));
            builder.Services.AddHostedService<FolderSourceService>();
        }
        else
        {
            var client = KubernetesSourceService.CreateClient(kubernetesOptions);
            builder.Services.AddSingleton(client);
            builder.Services.AddSingleton(sp => new KubernetesSource(client, kubernetesOptions, sp.GetRequiredService<ILogger<KubernetesSource>>()));
            builder.Services.AddSingleton(sp => new ClusterEventRecorder(client, sp.GetRequiredService<ILogger<ClusterEventRecorder>>(),
                new ClusterEventRecorderOptions { Namespace = kubernetesOptions.EventNamespace, RepeatInterval = kubernetesOptions.EventRepeatInterval }));
            builder.Services.AddHostedService<KubernetesSourceService>();
        }
        // Streams are closed cleanly on shutdown; Envoy keeps its last config and reconnects to another replica.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));

        var app = builder.Build();
        app.MapXdsServices();
        // Debug views only on the debug listener (loopback by default): they show every tenant's policy. Told by the
        // local address the connection arrived on, never by the Host header, which the client writes.
        app.Use((context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<DebugListenerOnly>() is null
                || (debugListener?.IPEndPoint is { } bound && ArrivedOn(context.Connection, bound)))
            {
                return next(context);
            }
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        var debug = app.MapGroup("").WithMetadata(new DebugListenerOnly());
        debug.MapXdsDebugEndpoints();
        debug.MapTenantDebugEndpoints();
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
}
