namespace XdsControlPlane.Xds.Planning;

/// <summary>What a request did to a subscription; the stream logs and counts it.</summary>
internal enum RequestOutcome
{
    /// <summary>The first request for the type on this stream (a nonce in it is from an earlier stream).</summary>
    Initial,

    /// <summary>A request with no response to acknowledge yet, or (delta) one that only changes the names.</summary>
    Request,

    /// <summary>A nonce that is not the latest sent: no ACK, no NACK; SotW ignores the request.</summary>
    Stale,

    Ack,

    /// <summary>A NACK with a new message (a repeat of the last one is <see cref="RepeatedNack"/>: not worth a log line).</summary>
    Nack,

    RepeatedNack,
}
