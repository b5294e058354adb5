namespace XdsControlPlane.Sources.Kubernetes.Watch;

public sealed record ClusterEventRecorderOptions
{
    /// <summary>KKP Clusters are cluster-scoped; their events live in this namespace (as <c>kubectl describe cluster</c> expects).</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>While a problem persists, its event's count is raised at most this often.</summary>
    public TimeSpan RepeatInterval { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Where the Seed lives: a missing or ambiguous Seed is reported by an Event in this namespace, on the Seed.</summary>
    public string SeedNamespace { get; init; } = "kubermatic";

    /// <summary>The Seed this proxy serves (<c>--seed-name</c>); null = the only one.</summary>
    public string? SeedName { get; init; }

    /// <summary>Translations waiting for the writer (<see cref="ClusterEventRecorder.Enqueue"/>); beyond it the oldest is dropped.</summary>
    public int QueueCapacity { get; init; } = 8;

    /// <summary><c>source.component</c> and <c>reportingComponent</c>.</summary>
    public string Component { get; init; } = "nodeport-proxy-xds";

    /// <summary><c>reportingInstance</c>: the pod (replica) that saw the problem.</summary>
    public string Instance { get; init; } = Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName;

    public const int MaxMessageLength = 1024;
}
