namespace XdsControlPlane.Model;

/// <summary>A Service annotated for the nodeport-proxy.</summary>
public sealed record ExposedService
{
    public required string Namespace { get; init; }

    public required string Name { get; init; }

    /// <summary>When the Service was created: on an SNI hostname conflict the older one wins.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    public ValueList<ExposedPort> Ports { get; init; } = ValueList<ExposedPort>.Empty;

    public string Key => $"{Namespace}/{Name}";
}
