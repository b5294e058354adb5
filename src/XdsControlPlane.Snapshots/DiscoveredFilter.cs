namespace XdsControlPlane.Snapshots;

/// <summary>A filter a listener takes from ECDS: its name, the types it accepts, and its default config's type.</summary>
public sealed record DiscoveredFilter(string Listener, string Name, IReadOnlyList<string> TypeUrls, string? DefaultTypeUrl);
