namespace XdsControlPlane.Compiler.Rbac;

/// <summary>How the allowed ranges are written into RBAC.</summary>
public enum RangeForm
{
    None,

    /// <summary>One principal per range: readable in config dumps; Envoy checks them linearly.</summary>
    Principals,

    /// <summary>RBAC <c>matcher</c> with the <c>Ip</c> input matcher: Envoy's own LC-trie, for long lists.</summary>
    TrieMatcher,
}
