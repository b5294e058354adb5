namespace XdsControlPlane.Xds;

/// <summary>
/// Limits and knobs of the xDS server. Defaults suit one shared Envoy fleet; docs/security.md says why each
/// default is what it is.
/// </summary>
public sealed class XdsServerOptions
{
    /// <summary>
    /// The only node id served (envoy-manager's <c>-envoy-node-name</c>); another gets PERMISSION_DENIED.
    /// Null serves any node (the library's default; the executable always sets it).
    /// </summary>
    public string? NodeId { get; set; }

    /// <summary>The only node cluster served, when set; null serves any cluster.</summary>
    public string? NodeCluster { get; set; }

    /// <summary>
    /// The largest request message accepted (gRPC's receive limit), in bytes; a larger one ends the stream with
    /// RESOURCE_EXHAUSTED. 4 MiB: an Envoy of a seed with 10,000 tenants repeats all its EDS names in every EDS
    /// ACK, ~30,000 names of ~45 bytes, about 1.4 MB; the rest is headroom for longer names and a NACK's message.
    /// </summary>
    public int MaxRequestBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>A request naming more resources than this (or more initial versions) fails with RESOURCE_EXHAUSTED.</summary>
    public int MaxResourceNamesPerRequest { get; set; } = 100_000;

    /// <summary>How many subscribed names one stream may hold per type, in total.</summary>
    public int MaxSubscribedNamesPerType { get; set; } = 100_000;

    /// <summary>
    /// The UTF-8 bytes of the names one stream may hold subscribed per type, in total (RESOURCE_EXHAUSTED beyond):
    /// a count alone lets 100,000 names of a megabyte each through, over several requests.
    /// </summary>
    public long MaxSubscribedNameBytesPerType { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// The serialised size of the node of a stream's first request (its metadata mostly); a larger one ends the
    /// stream with RESOURCE_EXHAUSTED. Envoy's own node is a few KiB; only id, cluster, user agent and client
    /// features are kept for the stream's life, never the metadata.
    /// </summary>
    public int MaxNodeBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// How long one response write may wait for the client to read (HTTP/2 flow control). A client that stops
    /// reading loses its stream (reset with ENHANCE_YOUR_CALM, which gRPC reads as RESOURCE_EXHAUSTED), and the
    /// response it held is freed.
    /// </summary>
    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Response bytes the whole server writes at once, over every stream; a write waits (first come, first served)
    /// until its response fits, and one larger than the budget goes alone. A response is serialised into its
    /// stream's output buffer and held there until the client has read it: at 1,000 tenants a stream's initial
    /// push is ~3.8 MB, and 200 Envoys reconnecting at once peaked at ~935 MB resident without this bound. Measured
    /// peak under that churn (docs/performance.md): 887 MB with 64 MiB, 506 MB with 16 MiB, 426 MB with 8 MiB.
    /// 16 MiB: four such pushes at once, so a few clients that stop reading (each holds its bytes until its write
    /// deadline) do not stall everyone else. A waiting stream still ends when its client goes; its write deadline
    /// starts when its write does.
    /// </summary>
    public long WriteBudgetBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Connections the xDS listener holds at once; beyond, a new connection is closed at once (before TLS).
    /// One Envoy holds one connection; a seed's nodeport-proxy runs a handful of replicas.
    /// </summary>
    public int MaxConnections { get; set; } = 256;

    /// <summary>
    /// HTTP/2 streams one connection may hold open at once (Kestrel's SETTINGS_MAX_CONCURRENT_STREAMS). Envoy opens
    /// one ADS stream, or one per type (LDS, CDS, EDS, RDS, ECDS), plus CSDS from a tool.
    /// </summary>
    public int MaxStreamsPerConnection { get; set; } = 16;

    /// <summary>Closed streams whose status is kept for the debug view (their memory is released).</summary>
    public int DisconnectedHistory { get; set; } = 32;

    /// <summary>A NACK's error message is truncated to this many characters before it is recorded.</summary>
    public int MaxRecordedErrorLength { get; set; } = 2048;

    /// <summary>Distinct unknown type URLs remembered per stream for the debug view.</summary>
    public int MaxRecordedUnknownTypes { get; set; } = 8;
}
