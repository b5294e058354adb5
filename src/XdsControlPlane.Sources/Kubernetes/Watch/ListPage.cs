namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>One page of a list: its items, the list's resourceVersion and the token for the next page.</summary>
public sealed record ListPage<T>(IReadOnlyList<T> Items, string ResourceVersion, string? Continue);
