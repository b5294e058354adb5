namespace XdsControlPlane.Xds;

/// <summary>Why a client was refused or cut off; the <c>reason</c> label of <c>xds_refused_total</c>.</summary>
public enum XdsRefusal
{
    /// <summary>A node id or cluster other than the configured one (PERMISSION_DENIED).</summary>
    Node,

    /// <summary>A TLS handshake failed: no client certificate, or one the client CA bundle does not vouch for.</summary>
    TlsHandshake,

    /// <summary>A request larger than <see cref="XdsServerOptions.MaxRequestBytes"/>.</summary>
    RequestBytes,

    /// <summary>A request naming more than <see cref="XdsServerOptions.MaxResourceNamesPerRequest"/> resources.</summary>
    ResourceNames,

    /// <summary>More than <see cref="XdsServerOptions.MaxSubscribedNamesPerType"/> names subscribed for one type.</summary>
    SubscriptionNames,

    /// <summary>More than <see cref="XdsServerOptions.MaxSubscribedNameBytesPerType"/> bytes of names for one type.</summary>
    SubscriptionBytes,

    /// <summary>A node larger than <see cref="XdsServerOptions.MaxNodeBytes"/>.</summary>
    NodeBytes,

    /// <summary>A connection beyond <see cref="XdsServerOptions.MaxConnections"/>.</summary>
    Connections,

    /// <summary>A response write that did not finish within <see cref="XdsServerOptions.WriteTimeout"/>.</summary>
    WriteTimeout,
}
