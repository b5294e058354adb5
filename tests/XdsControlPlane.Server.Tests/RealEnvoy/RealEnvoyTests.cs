using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using XdsControlPlane.Server.Hosting;

namespace XdsControlPlane.Server.Tests.RealEnvoy;

/// <summary>
/// The control plane in front of a real Envoy (<c>ENVOY_BIN</c>; <c>make e2e</c>), with real connections from loopback
/// source addresses: TLS with SNI on the SNI listener, plain TCP on a NodePort listener and an HTTP/2 CONNECT tunnel
/// on the tunneling listener. A source on the tenant's list reaches the upstream; one off it is closed and never
/// reaches the upstream. After the list is narrowed in the folder, new connections from the removed address are
/// refused and live ones end within the stated bound (README: <c>--revocation-delay</c> × 1.25 + <c>--drain-time-s</c>
/// for TCP paths; the seed's max-connection-duration for tunnels).
/// <para>
/// NOT YET RUN AGAINST A REAL ENVOY: no Envoy binary could be installed where this was written. It compiles, it is
/// skipped with its reason when ENVOY_BIN is unset, and the parts that need no Envoy (the folder edits' verdicts, the
/// rewritten bootstrap, loopback source binding, the tunnel client's framing) are checked by
/// <see cref="E2ESetupTests"/>. The first run with an Envoy may need fixes.
/// </para>
/// </summary>
public sealed class RealEnvoyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RevocationDelay = TimeSpan.FromSeconds(1);
    private const int DrainTimeSeconds = 2;
    /// <summary>The seed's max-connection-duration: the bound for live tunnels, long enough not to end the TCP-path connections first.</summary>
    private static readonly TimeSpan TunnelCap = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Headroom over each stated bound for what the bound does not count: the folder watch (200 ms debounce), the
    /// compile, the push and Envoy applying it, on a loaded 2-core machine.
    /// </summary>
    private static readonly TimeSpan Headroom = TimeSpan.FromSeconds(5);

    [EnvoyFact]
    public async Task RealConnectionsAreAdmittedOrRefusedByTheListAndANarrowingEndsLiveOnes()
    {
        var envoyBin = Environment.GetEnvironmentVariable(EnvoyFactAttribute.Variable)!;
        foreach (var port in E2ESetup.FixedListenerPorts)
        {
            Assert.True(E2ESetup.PortBusy(port) is null,
                $"{E2ESetup.PortBusy(port)}: the folder source compiles the SNI, tunneling and stats listeners on 6443, 8088 and 8002; free them to run this test");
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var token = cts.Token;
        var folder = Path.Combine(Path.GetTempPath(), $"xds-envoy-e2e-{Guid.NewGuid():N}");
        await using var upstream = new LoopbackUpstream();
        var nodePort = E2ESetup.FreePort();
        var adminPort = E2ESetup.FreePort();
        E2ESetup.PrepareFolder(folder, upstream.Port, nodePort, $"{(int)TunnelCap.TotalSeconds}s");
        var app = ControlPlaneApp.Build(new ServerOptions
        {
            Input = folder,
            ListenAddress = new IPEndPoint(IPAddress.Loopback, 0),
            DebugAddress = new IPEndPoint(IPAddress.Loopback, 0),
            MetricsAddress = new IPEndPoint(IPAddress.Loopback, 0),
            RevocationDelay = RevocationDelay,
        });
        var log = new ConcurrentQueue<string>();
        Process? envoy = null;
        var bootstrap = Path.Combine(folder + "-bootstrap.yaml");
        try
        {
            await app.StartAsync(token);
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
            using var debug = new HttpClient { BaseAddress = new Uri(addresses[1]) };
            await Until("the first snapshot", async () => (await debug.GetAsync("/debug/seed", token)).IsSuccessStatusCode, token);
            await AssertVerdict(debug, E2ESetup.Allowed, true, token);
            await AssertVerdict(debug, E2ESetup.Denied, false, token);

            var xdsPort = new Uri(addresses[0]).Port;
            await File.WriteAllTextAsync(bootstrap, E2ESetup.RewriteBootstrap(await File.ReadAllTextAsync(E2ESetup.BootstrapFile, token), xdsPort, adminPort), token);
            envoy = StartEnvoy(envoyBin, bootstrap, log);
            using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
            await Until("Envoy ready with its listeners", async () =>
            {
                Assert.False(envoy.HasExited, $"Envoy exited with {(envoy.HasExited ? envoy.ExitCode : 0)}");
                try
                {
                    var ready = await admin.GetAsync("/ready", token);
                    var listeners = await admin.GetStringAsync("/listeners", token);
                    return ready.IsSuccessStatusCode && listeners.Contains("sni_listener", StringComparison.Ordinal)
                        && listeners.Contains("tunneling_listener", StringComparison.Ordinal)
                        && listeners.Contains(E2ESetup.NodePortListener, StringComparison.Ordinal);
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, token);

            // Allowed: each path reaches the upstream (the listener may still be warming its ECDS filter: wait for it).
            var sni = await Until("an allowed TLS connection through the SNI listener", () => TryTls(E2ESetup.Allowed, "sni-allowed", token), token);
            var sniOpened = DateTimeOffset.UtcNow;
            var sniEnded = EndOf(sni.Stream);
            var tcp = await Until("an allowed TCP connection through the NodePort listener", () => TryTcp(E2ESetup.Allowed, nodePort, "nodeport-allowed", token), token);
            var tcpEnded = EndOf(tcp.Stream);
            await (await Until("an allowed CONNECT tunnel", () => TryTunnel(E2ESetup.Allowed, "tunnel-allowed", token), token)).DisposeAsync();

            // Denied: closed by Envoy, and nothing reaches the upstream.
            var accepted = upstream.Accepted;
            Assert.Null(await TryTls(E2ESetup.Denied, "sni-denied", token));
            Assert.Null(await TryTcp(E2ESetup.Denied, nodePort, "nodeport-denied", token));
            Assert.Null(await TryTunnel(E2ESetup.Denied, "tunnel-denied", token));
            // One more allowed connection after the denied ones: once its line has come back, a denied one that had
            // been forwarded would (in practice) have reached the upstream too.
            await using (var probe = await TryTcp(E2ESetup.Allowed, nodePort, "nodeport-probe", token))
            {
                Assert.NotNull(probe);
            }
            Assert.DoesNotContain(upstream.Lines, l => l.EndsWith("-denied", StringComparison.Ordinal));
            Assert.Equal(accepted + 1, upstream.Accepted); // the probe only: RBAC runs before tcp_proxy and the router

            // The live tunnel, opened last so the cap (counted from its start) is not near its end at the narrowing.
            var tunnel = await TryTunnel(E2ESetup.Allowed, "tunnel-live", token);
            Assert.NotNull(tunnel);

            // Narrow: 127.0.0.2 leaves the list.
            Assert.False(sniEnded.IsCompleted || tcpEnded.IsCompleted || tunnel.Ended.IsCompleted, "a live connection ended before the narrowing");
            var narrowedAt = DateTimeOffset.UtcNow;
            E2ESetup.Narrow(folder);
            await AssertVerdict(debug, E2ESetup.Allowed, false, token);
            // New connections from it are refused (from Envoy's first ACK of the narrower filter on).
            await Until("new connections from the removed address refused", async () =>
            {
                await using var again = await TryTcp(E2ESetup.Allowed, nodePort, $"nodeport-after-{Guid.NewGuid():N}", token);
                return again is null;
            }, token);
            Assert.Null(await TryTls(E2ESetup.Allowed, "sni-after", token));
            Assert.Null(await TryTunnel(E2ESetup.Allowed, "tunnel-after", token));
            Assert.DoesNotContain(upstream.Lines, l => l.EndsWith("-after", StringComparison.Ordinal));

            // Live TCP-path connections end within --revocation-delay × 1.25 + --drain-time-s. The seed's cap applies to
            // tcp_proxy too: it must not be what ends them, so they are young enough that it cannot fall in the window.
            var tcpBound = RevocationDelay * 1.25 + TimeSpan.FromSeconds(DrainTimeSeconds);
            Assert.True(narrowedAt - sniOpened + tcpBound + Headroom < TunnelCap,
                $"the live connections were {(narrowedAt - sniOpened).TotalSeconds:F1} s old at the narrowing: too close to the {TunnelCap.TotalSeconds} s cap to tell a drain from it");
            var sniEndedAt = await sniEnded.WaitAsync(tcpBound + Headroom, token);
            var tcpEndedAt = await tcpEnded.WaitAsync(tcpBound + Headroom, token);
            output.WriteLine($"after the narrowing, the live SNI connection ended at +{(sniEndedAt - narrowedAt).TotalSeconds:F1} s and the NodePort one at " +
                $"+{(tcpEndedAt - narrowedAt).TotalSeconds:F1} s (bound {tcpBound.TotalSeconds:F2} s, headroom {Headroom.TotalSeconds} s)");
            // A live tunnel ends within the seed's max-connection-duration (route changes reach new streams only).
            await tunnel.Ended.WaitAsync(TunnelCap + Headroom, token);
            output.WriteLine($"the live tunnel ended at +{(DateTimeOffset.UtcNow - narrowedAt).TotalSeconds:F1} s (cap {TunnelCap.TotalSeconds} s)");
            Assert.DoesNotContain(upstream.Lines, l => l.EndsWith("-after", StringComparison.Ordinal));
            await sni.DisposeAsync();
            await tcp.DisposeAsync();
            await tunnel.DisposeAsync();
        }
        catch (Exception e)
        {
            await StopEnvoy(envoy); // first: its exit drains the output still in the pipe into the log
            var tail = string.Join('\n', log.TakeLast(80));
            output.WriteLine("Envoy's log (last 80 lines):\n" + tail);
            throw new Xunit.Sdk.XunitException($"{e.GetType().Name}: {e.Message}\n--- Envoy's log (last 80 lines) ---\n{tail}", e);
        }
        finally
        {
            await StopEnvoy(envoy);
            envoy?.Dispose();
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            Directory.Delete(folder, recursive: true);
            File.Delete(bootstrap);
        }
    }

    /// <summary>Kills Envoy if it still runs and waits for it (and for its redirected output to be read).</summary>
    private static async Task StopEnvoy(Process? envoy)
    {
        if (envoy is null)
        {
            return;
        }
        if (!envoy.HasExited)
        {
            envoy.Kill(entireProcessTree: true);
        }
        await envoy.WaitForExitAsync(CancellationToken.None);
    }

    private static Process StartEnvoy(string envoyBin, string bootstrap, ConcurrentQueue<string> log)
    {
        var start = new ProcessStartInfo(envoyBin)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // A short drain so a narrowing's drain is observable quickly; no hot restart so no shared memory with another Envoy.
        foreach (var arg in new[] { "-c", bootstrap, "--drain-time-s", DrainTimeSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--disable-hot-restart", "--log-level", "info" })
        {
            start.ArgumentList.Add(arg);
        }
        var process = new Process { StartInfo = start };
        DataReceivedEventHandler keep = (_, e) =>
        {
            if (e.Data is not null)
            {
                log.Enqueue(e.Data);
                while (log.Count > 500 && log.TryDequeue(out var _))
                {
                }
            }
        };
        process.OutputDataReceived += keep;
        process.ErrorDataReceived += keep;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>A connection that reached the upstream: its line came back. Null when Envoy closed it instead.</summary>
    private sealed record Live(Stream Stream) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Stream.DisposeAsync();
    }

    private static async Task<Live?> TryTls(IPAddress source, string line, CancellationToken token)
    {
        var socket = await E2ESetup.ConnectFrom(source, 6443, token);
        var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            // The upstream's certificate is self-signed: what is checked is where the bytes went, not who answered.
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = E2ESetup.Hostname,
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }, token);
            return await Echoed(tls, line, token) ? new Live(tls) : await Closed(tls);
        }
        catch (Exception e) when (e is IOException or AuthenticationException or SocketException)
        {
            return await Closed(tls);
        }
    }

    private static async Task<Live?> TryTcp(IPAddress source, int port, string line, CancellationToken token)
    {
        var stream = new NetworkStream(await E2ESetup.ConnectFrom(source, port, token), ownsSocket: true);
        try
        {
            return await Echoed(stream, line, token) ? new Live(stream) : await Closed(stream);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return await Closed(stream);
        }
    }

    private static async Task<H2Tunnel?> TryTunnel(IPAddress source, string line, CancellationToken token)
    {
        var tunnel = await H2Tunnel.Open(source, 8088, E2ESetup.TunnelAuthority, token);
        if (tunnel.Status != "200")
        {
            await tunnel.DisposeAsync();
            return null;
        }
        await tunnel.Send(line + "\n", token);
        var echoed = Task.Run(async () =>
        {
            while (!tunnel.Received.Contains(line, StringComparison.Ordinal) && !tunnel.Ended.IsCompleted)
            {
                await Task.Delay(50, token);
            }
        }, token);
        await echoed.WaitAsync(TimeSpan.FromSeconds(10), token);
        if (tunnel.Received.Contains(line, StringComparison.Ordinal))
        {
            return tunnel;
        }
        await tunnel.DisposeAsync();
        return null;
    }

    /// <summary>Sends the line and reads until it comes back (true) or the connection is closed (false).</summary>
    private static async Task<bool> Echoed(Stream stream, string line, CancellationToken token)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(line + "\n"), token);
        var received = new StringBuilder();
        var buffer = new byte[256];
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(token);
        patience.CancelAfter(TimeSpan.FromSeconds(10));
        while (!received.ToString().Contains(line, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, patience.Token);
            if (read == 0)
            {
                return false;
            }
            received.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
        return true;
    }

    private static async Task<Live?> Closed(Stream stream)
    {
        await stream.DisposeAsync();
        return null;
    }

    /// <summary>Completes when the peer ends the connection (a read returns 0 or fails).</summary>
    private static Task<DateTimeOffset> EndOf(Stream stream) => Task.Run(async () =>
    {
        var buffer = new byte[256];
        try
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        return DateTimeOffset.UtcNow;
    });

    private static async Task AssertVerdict(HttpClient debug, IPAddress source, bool allowed, CancellationToken token) =>
        await Until($"/debug/allow to say {source} is {(allowed ? "allowed" : "denied")}", async () =>
        {
            var verdict = await debug.GetFromJsonAsync<JsonElement>($"/debug/allow?tenant={E2ESetup.Tenant}&ip={source}", token);
            return verdict.GetProperty("allowed").GetBoolean() == allowed && verdict.GetProperty("enforced").GetBoolean();
        }, token);

    /// <summary>Polls until the probe holds (a generous deadline: a first compile on a loaded 2-core machine is slow).</summary>
    private static async Task Until(string what, Func<Task<bool>> probe, CancellationToken token)
    {
        await Until(what, async () => await probe() ? (object?)true : null, token);
    }

    private static async Task<T> Until<T>(string what, Func<Task<T?>> probe, CancellationToken token) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await probe() is { } value)
                {
                    return value;
                }
            }
            catch (Exception e) when (e is SocketException or IOException or HttpRequestException)
            {
                // Not there yet (a listener not bound, a connection reset while Envoy applies a change): try again.
            }
            await Task.Delay(200, token);
        }
        throw new TimeoutException($"{what}: not reached in 90 s");
    }
}
