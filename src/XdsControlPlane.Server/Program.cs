using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Kubernetes.Watch;

ServerOptions options;
KubernetesSourceOptions? kubernetesOptions = null;
try
{
    options = ServerOptions.Parse(args);
    if (options.Source == "kubernetes")
    {
        kubernetesOptions = KubernetesSourceOptions.Parse(options.SourceArgs);
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"xds-control-plane: {e.Message}");
    return 2;
}

var app = ControlPlaneApp.Build(options, kubernetesOptions);
app.Logger.LogInformation("xDS on {Xds} ({Transport}), debug on http://{Debug}/, source {Source}", options.ListenAddress,
    options.XdsTls is null ? "h2c" : "mutual TLS", options.DebugAddress,
    kubernetesOptions is null ? Path.GetFullPath(options.Input) : "Kubernetes API");
await app.RunAsync();
return Environment.ExitCode;
