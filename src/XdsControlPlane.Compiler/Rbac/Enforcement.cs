namespace XdsControlPlane.Compiler.Rbac;

/// <summary>What is served for one tenant's allowlist: the decision table of docs/design.md ("What is served per tenant"), row by row.</summary>
public enum Enforcement
{
    /// <summary>No list: no filter, open as today.</summary>
    Unrestricted,

    /// <summary>RBAC on the socket peer (<c>direct_remote_ip</c>): the load balancer keeps client addresses.</summary>
    EnforcedDirect,

    /// <summary>RBAC on the PROXY protocol address (<c>remote_ip</c>), believed only from the load balancer.</summary>
    EnforcedProxyProtocol,

    /// <summary>Shadow rules only: counted under the tenant's stat prefix, nothing blocked.</summary>
    DryRun,

    /// <summary>The address is rewritten (SNAT) and PROXY is off: no filter, reported loudly.</summary>
    NotEnforceableOpen,

    /// <summary>The address is rewritten and the operator chose to fail closed: every connection denied.</summary>
    NotEnforceableDenyAll,

    /// <summary>LoadBalancer strategy: the tenant's own load balancer enforces the list, not this proxy.</summary>
    NotApplicable,
}
