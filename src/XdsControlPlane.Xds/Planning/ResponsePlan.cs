using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds.Planning;

/// <summary>
/// One response a stream owes: the resources to carry and (delta) the names to list as removed, in that order. The
/// version is the SotW <c>version_info</c> or the delta <c>system_version_info</c>; the stream adds the nonce.
/// </summary>
internal sealed record ResponsePlan(string TypeUrl, string Version, IReadOnlyList<EnvoyResource> Resources, IReadOnlyList<string> Removed);
