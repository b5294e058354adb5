namespace XdsControlPlane.Model;

/// <summary>
/// Something an operator must know about the input, naming the object and field, e.g.
/// <c>Cluster/abc: spec.apiServerAllowedIPRanges.cidrBlocks[2]: '10.0.0.1/8': host bits are set</c>.
/// </summary>
/// <param name="Code">A stable machine-readable reason (also the Kubernetes Event reason).</param>
/// <param name="TenantId">The tenant concerned, if any.</param>
public sealed record Diagnostic(
    DiagnosticSeverity Severity,
    string Code,
    string Object,
    string Field,
    string Message,
    string? TenantId = null)
{
    public override string ToString() =>
        string.IsNullOrEmpty(Field) ? $"{Object}: {Message}" : $"{Object}: {Field}: {Message}";
}
