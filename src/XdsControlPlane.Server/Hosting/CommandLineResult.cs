using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Server.Hosting;

/// <summary>What the command line asks for: run with these options, or print a text (help, version, an error) and exit.</summary>
public sealed record CommandLineResult
{
    /// <summary>Set when the program should run.</summary>
    public ServerOptions? Server { get; init; }

    /// <summary>Set when the Kubernetes source was chosen (explicitly, by a Kubernetes flag, or by running in a pod).</summary>
    public KubernetesSourceOptions? Kubernetes { get; init; }

    /// <summary>Help or version text for stdout.</summary>
    public string? Output { get; init; }

    /// <summary>One line for stderr, without the program name.</summary>
    public string? Error { get; init; }

    /// <summary>0 for help and version, 2 for a bad command line; meaningless when <see cref="Server"/> is set.</summary>
    public int ExitCode { get; init; }
}
