namespace XdsControlPlane.Compiler.Compilation;

/// <summary>What Service ports claim, one holder each across the seed.</summary>
internal enum ClaimKind
{
    /// <summary>An SNI hostname: two chains with one server name make Envoy refuse the listener.</summary>
    SniHostname,

    /// <summary>A node port: two listeners on one port make Envoy refuse the second bind (and NACK the update).</summary>
    NodePort,
}
