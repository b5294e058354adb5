using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Kubernetes.Watch;

var command = ControlPlaneCommandLine.Parse(args);
if (command.Server is not { } options)
{
    if (command.Error is not null)
    {
        Console.Error.WriteLine($"{ControlPlaneCommandLine.ProgramName}: {command.Error}");
    }
    Console.Out.Write(command.Output);
    return command.ExitCode;
}

WebApplication app;
try
{
    app = ControlPlaneApp.Build(options, command.Kubernetes);
}
catch (KubeconfigException e)
{
    // A bad or missing kubeconfig is the operator's to fix: one line, not a stack trace.
    Console.Error.WriteLine($"{ControlPlaneCommandLine.ProgramName}: {e.Message}");
    return 2;
}
HostLog.Started(app.Logger, ControlPlaneCommandLine.ProgramName, ControlPlaneCommandLine.VersionText, options.ListenAddress,
    options.XdsTls is null ? "h2c" : "mutual TLS", options.DebugAddress,
    command.Kubernetes is null ? Path.GetFullPath(options.Input) : "Kubernetes API");
await app.RunAsync();
return Environment.ExitCode;
