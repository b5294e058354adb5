using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace XdsControlPlane.Xds.Transport;

/// <summary>The Kestrel side of the xDS listener: HTTP/2 only, mutual TLS when configured, connections capped.</summary>
public static class XdsListener
{
    /// <summary>
    /// Listens for xDS on <paramref name="endpoint"/>: h2c when <paramref name="tls"/> is null, otherwise HTTP/2 over
    /// TLS with a client certificate required and checked against the client CA bundle (<see cref="XdsTlsCredentials"/>).
    /// At most <see cref="XdsServerOptions.MaxConnections"/> connections are held (a further one is closed before its
    /// handshake, counted and logged) and each carries at most <see cref="XdsServerOptions.MaxStreamsPerConnection"/>
    /// streams (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS, server-wide: the other listeners are HTTP/1).
    /// </summary>
    /// <returns>The credentials in use (null for h2c), read once here: a start with unreadable files fails.</returns>
    public static XdsTlsCredentials? ListenXds(this KestrelServerOptions kestrel, IPEndPoint endpoint, XdsTlsFiles? tls,
        Action<ListenOptions>? configure = null)
    {
        var services = kestrel.ApplicationServices;
        var options = services.GetService<IOptions<XdsServerOptions>>()?.Value ?? new XdsServerOptions();
        var metrics = services.GetRequiredService<XdsMetrics>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("XdsControlPlane.Xds.Transport");
        var credentials = tls is null ? null : new XdsTlsCredentials(tls, logger, metrics, services.GetService<TimeProvider>());
        kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
        kestrel.Listen(endpoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            // First, so that a connection over the cap costs no handshake.
            listen.Use(next => new ConnectionCap(next, options.MaxConnections, metrics, logger).OnConnectionAsync);
            if (credentials is not null)
            {
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = context => ValueTask.FromResult(credentials.OptionsFor(context.Connection.RemoteEndPoint?.ToString() ?? "?")),
                    HandshakeTimeout = TimeSpan.FromSeconds(10),
                });
            }
            configure?.Invoke(listen);
        });
        return credentials;
    }

    /// <summary>Counts the listener's open connections and closes any beyond the cap at once.</summary>
    private sealed class ConnectionCap(ConnectionDelegate next, int max, XdsMetrics metrics, ILogger logger)
    {
        private long _open;

        public async Task OnConnectionAsync(ConnectionContext connection)
        {
            var open = Interlocked.Increment(ref _open);
            try
            {
                if (open > max)
                {
                    // Returning closes the connection: the client sees it closed before any HTTP/2 (gRPC UNAVAILABLE).
                    metrics.Refused(XdsRefusal.Connections);
                    XdsLog.ConnectionRefused(logger, connection.RemoteEndPoint?.ToString() ?? "?", open - 1, max);
                    return;
                }
                metrics.ConnectionOpened();
                try
                {
                    await next(connection);
                }
                finally
                {
                    metrics.ConnectionClosed();
                }
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        }
    }
}
