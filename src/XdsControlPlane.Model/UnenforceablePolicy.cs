namespace XdsControlPlane.Model;

/// <summary>What to serve for a tenant whose allowlist cannot be enforced (SNAT, no PROXY protocol).</summary>
public enum UnenforceablePolicy
{
    /// <summary>Serve no filter (the tenant stays reachable, as today) and report it loudly.</summary>
    ReportOpen,

    /// <summary>Deny every connection to the tenant: fail closed.</summary>
    DenyAll,
}
