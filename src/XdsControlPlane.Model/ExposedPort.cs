namespace XdsControlPlane.Model;

/// <summary>A port of a Service that the nodeport-proxy exposes, and how.</summary>
public sealed record ExposedPort
{
    public required string Name { get; init; }

    /// <summary>The Service port (used in the tunneling authority).</summary>
    public required int Port { get; init; }

    /// <summary>The node port; 0 when the Service has none.</summary>
    public int NodePort { get; init; }

    public bool ViaNodePort { get; init; }

    /// <summary>The SNI hostname from <c>nodeport-proxy.k8s.io/port-mapping</c>; null when not exposed by SNI.</summary>
    public string? SniHostname { get; init; }

    public bool ViaTunneling { get; init; }

    /// <summary>Ready endpoints for the port's target, sorted by zone, then address and port (so a zone's endpoints are adjacent).</summary>
    public ValueList<UpstreamEndpoint> Endpoints { get; init; } = ValueList<UpstreamEndpoint>.Empty;
}
