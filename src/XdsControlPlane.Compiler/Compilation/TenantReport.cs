using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>What an operator (and the debug endpoint) needs to know about one tenant's compiled policy.</summary>
public sealed record TenantReport(
    string Id,
    ExposeStrategy Strategy,
    Enforcement Enforcement,
    RangeForm Form,
    string Reason,
    IReadOnlyList<string> EffectiveRanges,
    IReadOnlyList<string> SniHostnames,
    IReadOnlyList<int> NodePorts,
    IReadOnlyList<string> TunnelingAuthorities,
    bool ServingLastGood)
{
    /// <summary>The effective set, for verdict queries ("may A reach this tenant?"); empty when unrestricted.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public CidrSet Ranges { get; init; } = CidrSet.Empty;
}
