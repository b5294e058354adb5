using XdsControlPlane.Compiler.Rbac;

namespace XdsControlPlane.Server.Debug;

/// <param name="Allowed">Whether the configuration Envoy is served lets the address in.</param>
/// <param name="ListAllows">Whether the tenant's effective list (tenant ∪ seed) contains the address.</param>
/// <param name="MatchedRanges">The tenant's or seed's original ranges that contain it, most specific first.</param>
public sealed record AllowVerdict(string Tenant, string Ip, bool Allowed, bool ListAllows, IReadOnlyList<string> MatchedRanges,
    Enforcement Enforcement, bool Enforced, string Reason)
{
    /// <summary>With PROXY protocol: which connections the verdict is about (see <see cref="TenantDebugEndpoints.Verdict"/>).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? Note { get; init; }
}
