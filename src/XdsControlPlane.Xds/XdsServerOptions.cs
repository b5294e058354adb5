namespace XdsControlPlane.Xds;

/// <summary>Limits and knobs of the xDS server. Defaults suit one shared Envoy fleet.</summary>
public sealed class XdsServerOptions
{
    /// <summary>A request naming more resources than this (or more initial versions) fails with RESOURCE_EXHAUSTED.</summary>
    public int MaxResourceNamesPerRequest { get; set; } = 100_000;

    /// <summary>How many subscribed names one stream may hold per type, in total.</summary>
    public int MaxSubscribedNamesPerType { get; set; } = 100_000;

    /// <summary>Closed streams whose status is kept for the debug view (their memory is released).</summary>
    public int DisconnectedHistory { get; set; } = 32;

    /// <summary>A NACK's error message is truncated to this many characters before it is recorded.</summary>
    public int MaxRecordedErrorLength { get; set; } = 2048;

    /// <summary>Distinct unknown type URLs remembered per stream for the debug view.</summary>
    public int MaxRecordedUnknownTypes { get; set; } = 8;
}
