namespace XdsControlPlane.Xds.Engine;

/// <summary>What a stream keeps of its node: the fields the status views show, copied out of the request.</summary>
internal sealed record NodeSummary(string Id, string Cluster, string UserAgent, string BuildVersion, IReadOnlyList<string> ClientFeatures);
