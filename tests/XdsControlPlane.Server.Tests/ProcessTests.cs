using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;
using Xunit.Abstractions;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// The real executable as an operator runs it: exit codes and stderr of a bad command line or kubeconfig, and the
/// logs of a running server (one line per event, no ASP.NET request lines, a client going away at Debug without a
/// stack, JSON lines with --log-format json).
/// </summary>
public sealed class ProcessTests(ITestOutputHelper output)
{
    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "xds-control-plane.dll");
    private static readonly string Example = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed"));

    [Theory]
    [InlineData("unknown flag '-envoy-nod-name=kube'", "-listen-address=127.0.0.1:8001", "-envoy-nod-name=kube")]
    [InlineData("--debug-address 'nowhere'", "--debug-address", "nowhere")]
    [InlineData("(--kubeconfig) does not exist", "-envoy-node-name=kube", "-seed-namespace=kubermatic", "--kubeconfig=/nonexistent/kubeconfig")]
    public async Task ABadCommandLineOrKubeconfigIsOneLineAndExitTwo(string expected, params string[] args)
    {
        var run = await RunToEndAsync(args);
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.Stdout);
        var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("xds-control-plane: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AKubeconfigUserWithoutCredentialsFromTheVariableIsOneLineAndExitTwo()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kubeconfig-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(path, """
            apiVersion: v1
            kind: Config
            clusters: [{name: seed, cluster: {server: "https://127.0.0.1:1"}}]
            users: [{name: nobody, user: {}}]
            contexts: [{name: seed, context: {cluster: seed, user: nobody}}]
            current-context: seed
            """);
        try
        {
            var run = await RunToEndAsync(["-seed-namespace=kubermatic"], new() { ["KUBECONFIG"] = path });
            Assert.Equal(2, run.ExitCode);
            var line = Assert.Single(run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"kubeconfig {path} ($KUBECONFIG)", line, StringComparison.Ordinal);
            Assert.Contains("credentials", line, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task HelpAndVersionExitZero()
    {
        var help = await RunToEndAsync(["--help"]);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--watchdog-timeout", help.Stdout, StringComparison.Ordinal);
        var version = await RunToEndAsync(["-version"]);
        Assert.Equal(0, version.ExitCode);
        Assert.StartsWith("xds-control-plane ", version.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JsonLogsAreOneObjectPerLineWithoutRequestLogsOrDisconnectStacks()
    {
        var lines = await RunServerAsync(["--log-format", "json", "--log-level", "debug"]);
        var events = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var categories = events.Select(e => e.GetProperty("Category").GetString()!).ToList();
        Assert.DoesNotContain(categories, c => c.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        var gone = events.Where(e => e.GetProperty("EventId").GetInt32() == 13).ToList();
        Assert.NotEmpty(gone);
        Assert.All(gone, e =>
        {
            Assert.Equal("Debug", e.GetProperty("LogLevel").GetString());
            Assert.False(e.TryGetProperty("Exception", out _));
        });
    }

    [Fact]
    public async Task TextLogsAreOneLinePerEventWithoutRequestLogs()
    {
        var lines = await RunServerAsync([]);
        Assert.Contains(lines, l => l.Contains("StreamOpened", StringComparison.Ordinal) || l.Contains("stream 1 opened", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("Microsoft.AspNetCore", StringComparison.Ordinal));
        // No stack trace lines: every line is an event, starting with its timestamp.
        Assert.All(lines, l => Assert.Matches(@"^\d\d:\d\d:\d\d\.\d\d\d ", l));
    }

    /// <summary>
    /// The GC settings chosen for the sidecar (docs/performance.md, "Memory of the host") are those the shipped
    /// executable runs with, whatever the Web SDK defaults to, and /debug/memory reports them with the process's memory.
    /// </summary>
    [Fact]
    public async Task TheShippedGcSettingsAreInEffectAndDebugMemoryReportsThem()
    {
        var (xds, debug, metrics) = (FreePort(), FreePort(), FreePort());
        // No GC variable of the machine running the tests may override what the runtimeconfig says.
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("DOTNET_GC", StringComparison.OrdinalIgnoreCase) || k.StartsWith("COMPlus_GC", StringComparison.OrdinalIgnoreCase))
            .ToList();
        using var process = Start(["--input", Example, "--listen-address", $"127.0.0.1:{xds}", "--debug-address", $"127.0.0.1:{debug}",
            "--metrics-address", $"127.0.0.1:{metrics}"], [], remove: environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{debug}"), Timeout = TimeSpan.FromSeconds(5) };
            JsonElement view = default;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (view.ValueKind != JsonValueKind.Object)
            {
                try
                {
                    view = JsonDocument.Parse(await http.GetStringAsync("/debug/memory")).RootElement.Clone();
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
                {
                    await Task.Delay(100);
                }
            }
            Assert.False(view.GetProperty("serverGc").GetBoolean());
            var gc = view.GetProperty("gc");
            Assert.Equal("False", gc.GetProperty("ServerGC").GetString());
            Assert.Equal("True", gc.GetProperty("ConcurrentGC").GetString());
            Assert.Equal("5", gc.GetProperty("GCConserveMem").GetString());
            Assert.Equal("16777216", gc.GetProperty("GCGen0MaxBudget").GetString());
            // The resident figures are the kernel's (VmRSS, VmHWM): a running .NET server holds tens of MB at least.
            Assert.InRange(view.GetProperty("residentBytes").GetInt64(), 10_000_000, long.MaxValue);
            Assert.InRange(view.GetProperty("peakResidentBytes").GetInt64(), view.GetProperty("residentBytes").GetInt64() / 2, long.MaxValue);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            await process.WaitForExitAsync();
            output.WriteLine(await stdout);
            output.WriteLine(await stderr);
        }
    }

    /// <summary>
    /// Runs the server on the example seed, makes a debug request and an ADS stream that the client abandons, stops
    /// the server with SIGTERM and returns what it wrote on stdout (the logs).
    /// </summary>
    private async Task<List<string>> RunServerAsync(string[] extra)
    {
        var (xds, debug, metrics) = (FreePort(), FreePort(), FreePort());
        using var process = Start(["--input", Example, "--listen-address", $"127.0.0.1:{xds}", "--debug-address", $"127.0.0.1:{debug}",
            "--metrics-address", $"127.0.0.1:{metrics}", .. extra], []);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{debug}"), Timeout = TimeSpan.FromSeconds(5) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                try
                {
                    if ((await http.GetAsync("/debug/tenants")).StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline)
                {
                }
                Assert.True(DateTime.UtcNow < deadline && !process.HasExited, "the server did not serve /debug/tenants");
                await Task.Delay(100);
            }
            using (var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{xds}"))
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                var client = new AggregatedDiscoveryService.AggregatedDiscoveryServiceClient(channel);
                using var stream = client.StreamAggregatedResources(cancellationToken: cts.Token);
                await stream.RequestStream.WriteAsync(new DiscoveryRequest
                {
                    Node = new Envoy.Config.Core.V3.Node { Id = "kube", Cluster = "np-cluster" },
                    TypeUrl = Snapshots.TypeUrls.Listener,
                });
                Assert.True(await stream.ResponseStream.MoveNext(cts.Token));
                // The client goes away without closing its stream (Envoy restarting): a reset, not an end.
            }
            // Wait until the server has seen the stream go (its status view lists it as disconnected).
            var closedBy = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (JsonDocument.Parse(await http.GetStringAsync("/debug/syncz")).RootElement.GetProperty("recentlyDisconnected").GetArrayLength() == 0)
            {
                Assert.True(DateTime.UtcNow < closedBy, "the server did not see the client go");
                await Task.Delay(100);
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                await kill.WaitForExitAsync();
            }
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(exit.Token);
        }
        var text = await stdout;
        output.WriteLine(text);
        output.WriteLine(await stderr);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunToEndAsync(string[] args, Dictionary<string, string>? environment = null)
    {
        using var process = Start(args, environment ?? []);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    private static Process Start(string[] args, Dictionary<string, string> environment, IReadOnlyList<string>? remove = null)
    {
        // The dotnet host that runs the tests (set by `dotnet test`), else the one on PATH.
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Executable);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        // Not in a pod, whatever machine runs the tests; no kubeconfig of the developer's.
        start.Environment.Remove("KUBERNETES_SERVICE_HOST");
        start.Environment["KUBECONFIG"] = "";
        start.Environment["HOME"] = Path.GetTempPath();
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        foreach (var name in remove ?? [])
        {
            start.Environment.Remove(name);
        }
        return Process.Start(start)!;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
