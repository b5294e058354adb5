namespace XdsControlPlane.Model;

/// <summary>How each tenant's network RBAC filter reaches Envoy.</summary>
public enum RbacDelivery
{
    /// <summary>
    /// ECDS (Envoy ≥ 1.28): each tenant chain or NodePort listener names a filter whose config is a separate
    /// <c>TypedExtensionConfig</c>, so an allowlist edit re-sends that one resource, not the shared
    /// <c>sni_listener</c>. Narrowing still changes the tenant's own chain (a revocation generation in the
    /// filter's name) so that Envoy drains the connections the new list no longer admits.
    /// </summary>
    Ecds,

    /// <summary>The RBAC config inside each chain: every edit re-sends the listener and drains the tenant's chain.</summary>
    Inline,
}
