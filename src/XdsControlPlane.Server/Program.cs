using Microsoft.AspNetCore.Server.Kestrel.Core;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Server.Debug;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes.Watch;
using XdsControlPlane.Xds;

ServerOptions options;
KubernetesSourceOptions? kubernetesOptions = null;
try
{
    options = ServerOptions.Parse(args);
    if (options.Source == "kubernetes")
    {
        kubernetesOptions = KubernetesSourceOptions.Parse(args);
        kubernetesOptions.Validate();
    }
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"xds-control-plane: {e.Message}");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
builder.WebHost.ConfigureKestrel(kestrel =>
{
    // Envoy speaks gRPC over cleartext HTTP/2 (h2c): the endpoint must be HTTP/2 only.
    kestrel.Listen(options.ListenAddress, o => o.Protocols = HttpProtocols.Http2);
    kestrel.Listen(options.DebugAddress, o => o.Protocols = HttpProtocols.Http1);
    // Notice half-dead Envoy connections; Envoy pings too (connection_keepalive in the bootstraps).
    kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
    kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(10);
});
builder.Services.AddXdsServer();
builder.Services.AddSingleton(sp =>
{
    var cache = sp.GetRequiredService<SnapshotCache>();
    return new ConfigPipeline(snapshot => cache.TrySetSnapshot(snapshot), sp.GetRequiredService<ILogger<ConfigPipeline>>());
});
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
var debugHost = $"*:{options.DebugAddress.Port}";
app.MapXdsServices();
var debug = app.MapGroup("").RequireHost(debugHost);
debug.MapXdsDebugEndpoints();
debug.MapTenantDebugEndpoints();

app.Logger.LogInformation("xDS on {Xds} (h2c), debug on http://{Debug}/, source {Source}", options.ListenAddress, options.DebugAddress,
    kubernetesOptions is null ? Path.GetFullPath(options.Input) : "Kubernetes API");
await app.RunAsync();
return 0;
