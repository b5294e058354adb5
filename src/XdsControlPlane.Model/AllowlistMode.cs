namespace XdsControlPlane.Model;

/// <summary>How a tenant's allowlist is applied.</summary>
public enum AllowlistMode
{
    Enforce,

    /// <summary>Shadow rules only: would-be denials are counted, nothing is blocked.</summary>
    DryRun,
}
