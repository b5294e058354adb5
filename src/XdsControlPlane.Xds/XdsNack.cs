namespace XdsControlPlane.Xds;

/// <summary>A rejected version and why.</summary>
public sealed record XdsNack(string Version, string Nonce, string Message, DateTimeOffset At);
