using System.Net;

namespace XdsControlPlane.Server.Hosting;

/// <summary>The executable's own log lines.</summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 320, EventName = "Started", Level = LogLevel.Information,
        Message = "{Program} {Version}: xDS on {Xds} ({Transport}), debug on http://{Debug}/, source {Source}")]
    public static partial void Started(ILogger logger, string program, string version, IPEndPoint xds, string transport, IPEndPoint debug, string source);
}
