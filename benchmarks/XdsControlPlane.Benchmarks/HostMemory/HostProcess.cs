using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace XdsControlPlane.Benchmarks.HostMemory;

/// <summary>One apply the host logged (ConfigPipeline's SnapshotApplied, EventId 200).</summary>
internal sealed record AppliedLine(string Version, int Tenants, int Recompiled, double Milliseconds, long Timestamp);

/// <summary>
/// The real server (xds-control-plane.dll, Release, copied next to this executable by the project reference) as a child
/// process on a folder, on loopback ports, under the GC settings given as DOTNET_* variables. Its memory is read from
/// /proc/&lt;pid&gt;/status as the kernel accounts it (VmRSS now, VmHWM the peak since start or since <see cref="ResetPeak"/>).
/// </summary>
internal sealed partial class HostProcess : IAsyncDisposable
{
    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "xds-control-plane.dll");
    private readonly Process _process;
    private readonly List<AppliedLine> _applied = [];
    private readonly Lock _gate = new();
    private readonly Task _stdout;
    private readonly Task _stderr;
    private readonly List<string> _problems = [];

    private HostProcess(Process process, int xds, int debug)
    {
        _process = process;
        XdsAddress = $"http://127.0.0.1:{xds}";
        DebugAddress = $"http://127.0.0.1:{debug}";
        _stdout = Task.Run(() => Pump(process.StandardOutput));
        _stderr = Task.Run(() => Pump(process.StandardError));
    }

    public string XdsAddress { get; }

    public string DebugAddress { get; }

    public int Pid => _process.Id;

    /// <summary>Error and critical log lines, and anything on stderr.</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_gate)
            {
                return [.. _problems];
            }
        }
    }

    public static HostProcess Start(string folder, IReadOnlyDictionary<string, string> environment)
    {
        var (xds, debug, metrics) = (FreePort(), FreePort(), FreePort());
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Executable, "--input", folder, "--listen-address", $"127.0.0.1:{xds}",
            "--debug-address", $"127.0.0.1:{debug}", "--metrics-address", $"127.0.0.1:{metrics}" })
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment.Remove("KUBERNETES_SERVICE_HOST");
        start.Environment["KUBECONFIG"] = "";
        // The child's GC is set only by what each setting names (the runtimeconfig's, as shipped, otherwise).
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("DOTNET_GC", StringComparison.OrdinalIgnoreCase)
            || k.StartsWith("DOTNET_gc", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        return new HostProcess(Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start"), xds, debug);
    }

    private async Task Pump(StreamReader reader)
    {
        var isError = ReferenceEquals(reader, _process.StandardError);
        while (await reader.ReadLineAsync() is { } line)
        {
            if (AppliedPattern().Match(line) is { Success: true } m)
            {
                var applied = new AppliedLine(m.Groups[1].Value, int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                    int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture),
                    Stopwatch.GetTimestamp());
                lock (_gate)
                {
                    _applied.Add(applied);
                }
            }
            else if (isError || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal))
            {
                lock (_gate)
                {
                    _problems.Add(line);
                }
            }
        }
    }

    [GeneratedRegex(@"Applied snapshot (\S+): (\d+) tenants, (\d+) recompiled, in ([\d.]+) ms")]
    private static partial Regex AppliedPattern();

    public int AppliedCount
    {
        get
        {
            lock (_gate)
            {
                return _applied.Count;
            }
        }
    }

    /// <summary>Waits for an apply after the first <paramref name="seen"/> that matches <paramref name="match"/>.</summary>
    public async Task<AppliedLine> WaitForAppliedAsync(int seen, Func<AppliedLine, bool> match, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            lock (_gate)
            {
                if (_applied.Skip(seen).FirstOrDefault(match) is { } found)
                {
                    return found;
                }
            }
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the host exited ({_process.ExitCode}): {string.Join(" | ", Problems.Take(5))}");
            }
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"no matching apply within {timeout}");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>(VmRSS, VmHWM) in bytes.</summary>
    public (long Rss, long Peak) Memory()
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line) * 1024;
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line) * 1024;
            }
        }
        return (rss, peak);

        static long Kilobytes(string line) =>
            long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }

    /// <summary>RssFile: resident pages backed by files (the runtime's and the application's assemblies, mapped).</summary>
    public long FileBackedResident() =>
        File.ReadLines($"/proc/{Pid}/status").Where(l => l.StartsWith("RssFile:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024).FirstOrDefault();

    /// <summary>Resets VmHWM to the current VmRSS (Linux: "5" to clear_refs), so the next peak is this phase's alone.</summary>
    public void ResetPeak() => File.WriteAllText($"/proc/{Pid}/clear_refs", "5");

    /// <summary>User + system CPU time of the host so far.</summary>
    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public async Task<string> GetAsync(string path)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return await http.GetStringAsync(DebugAddress + path);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(exit.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        await Task.WhenAll(_stdout, _stderr).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        _process.Dispose();
    }

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}

/// <summary>Samples VmRSS every few milliseconds until disposed: the largest sample backs up VmHWM.</summary>
internal sealed class RssSampler : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public RssSampler(HostProcess host, TimeSpan every)
    {
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    Max = Math.Max(Max, host.Memory().Rss);
                }
                catch (IOException)
                {
                    return;
                }
                await Task.Delay(every).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
    }

    public long Max { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
