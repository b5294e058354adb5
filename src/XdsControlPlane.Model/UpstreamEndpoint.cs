namespace XdsControlPlane.Model;

/// <summary>One ready upstream address of an exposed port.</summary>
/// <param name="Zone">The EndpointSlice endpoint's <c>zone</c> (the node's <c>topology.kubernetes.io/zone</c>); empty when the slice gives none.</param>
/// <param name="NodeName">The endpoint's <c>nodeName</c>; empty when the slice gives none.</param>
public sealed record UpstreamEndpoint(string Address, int Port, string Zone = "", string NodeName = "");
