using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Envoy.Service.Discovery.V3;
using Grpc.Net.Client;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Benchmarks.Xds;

namespace XdsControlPlane.Benchmarks.HostMemory;

/// <summary>
/// Issue 13, item 4: the resident memory of the real host process (not an in-process compile), under several GC
/// settings, in three scenarios: 10,000 tenants at steady state, the same during a full recompile (a Seed edit that
/// changes every tenant's effective list), and 1,000 tenants under reconnect churn (200 ADS clients re-opening their
/// streams every 0.5–5 s for 40 s while two tenant files are edited a second; every client must converge, no
/// errors). The first setting is the baseline (the settings the server shipped with before this benchmark: Server
/// GC, DATAS on by default); every figure is also printed as a ratio against it. Then the per-tenant breakdown
/// (<see cref="LayerBreakdown"/>), measured in this process.
/// </summary>
/// <remarks>
/// Not BenchmarkDotNet: each figure is one long run of a child process, measured by the kernel's accounting. Run by
/// <c>make bench</c> after the BenchmarkDotNet suites, or alone:
/// <c>dotnet run -c Release --project benchmarks/XdsControlPlane.Benchmarks -- host-memory [--settings a,b] [--tenants N] [--churn-tenants N] [--churn-seconds S] [--no-breakdown]</c>.
/// Every setting runs as if in the sidecar's 1 GiB container: the runtime there caps the GC heap at 75% of the limit
/// (768 MiB) by itself; here that cap is given as DOTNET_GCHeapHardLimit, except for the "as measured in the issue" row.
/// </remarks>
public static class HostMemoryBench
{
    private const string PodHeapLimit = "0x30000000"; // 768 MiB: 75% of the 1 GiB container limit, the runtime's default there

    /// <summary>
    /// The settings compared; the first is the baseline. Each names every GC variable the runtimeconfig sets (a DOTNET_
    /// variable wins over it; 0 restores the runtime's default), so that a row means the same whatever is shipped.
    /// </summary>
    public static readonly IReadOnlyList<(string Name, Dictionary<string, string> Environment)> Settings =
    [
        ("server+DATAS (before)", Env(("DOTNET_gcServer", "1"), ("DOTNET_GCDynamicAdaptationMode", "1"))),
        ("server+DATAS no limit", Env(("DOTNET_gcServer", "1"), ("DOTNET_GCDynamicAdaptationMode", "1"), ("DOTNET_GCHeapHardLimit", null))),
        ("server DATAS off", Env(("DOTNET_gcServer", "1"), ("DOTNET_GCDynamicAdaptationMode", "0"))),
        ("workstation", Env(("DOTNET_gcServer", "0"))),
        ("workstation conserve=5", Env(("DOTNET_gcServer", "0"), ("DOTNET_GCConserveMemory", "5"))),
        ("workstation gen0 16 MB", Env(("DOTNET_gcServer", "0"), ("DOTNET_GCGen0MaxBudget", "0x1000000"))),
        ("server+DATAS conserve=5", Env(("DOTNET_gcServer", "1"), ("DOTNET_GCDynamicAdaptationMode", "1"), ("DOTNET_GCConserveMemory", "5"))),
        // The runtimeconfig's settings (src/XdsControlPlane.Server/XdsControlPlane.Server.csproj), in the pod.
        ("as shipped", new() { ["DOTNET_GCHeapHardLimit"] = PodHeapLimit }),
    ];

    private static Dictionary<string, string> Env(params (string Name, string? Value)[] overrides)
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_GCConserveMemory"] = "0",
            ["DOTNET_GCGen0MaxBudget"] = "0",
            ["DOTNET_GCHeapHardLimit"] = PodHeapLimit,
        };
        foreach (var (name, value) in overrides)
        {
            if (value is null)
            {
                environment.Remove(name);
            }
            else
            {
                environment[name] = value;
            }
        }
        return environment;
    }

    private static int ChurnSeconds = 40;

    /// <summary>The host serves one node id (--envoy-node-name, default kube); every replica's Envoy uses it.</summary>
    private const string NodeId = "kube";

    public static async Task<int> RunAsync(string[] args)
    {
        ChurnSeconds = IntArg(args, "--churn-seconds", 40);
        var tenants = IntArg(args, "--tenants", 10_000);
        var churnTenants = IntArg(args, "--churn-tenants", 1_000);
        var selected = Arg(args, "--settings")?.Split(',') is { } names
            ? Settings.Where(s => names.Any(n => s.Name.StartsWith(n, StringComparison.OrdinalIgnoreCase))).ToList()
            : [.. Settings];
        var root = Path.Combine(Path.GetTempPath(), $"xds-host-memory-{Environment.ProcessId}");
        var big = Path.Combine(root, "big");
        var small = Path.Combine(root, "churn");
        Console.WriteLine($"host-memory: writing {tenants:N0} and {churnTenants:N0} tenant folders under {root}");
        SyntheticFolder.Write(big, tenants);
        SyntheticFolder.Write(small, churnTenants);
        try
        {
            var rows = new List<Row>();
            foreach (var (name, environment) in selected)
            {
                Console.WriteLine($"host-memory: {name} ({string.Join(' ', environment.Select(kv => $"{kv.Key}={kv.Value}"))})");
                var row = new Row(name);
                try
                {
                    await MeasureLargeAsync(big, environment, row);
                    await MeasureChurnAsync(small, churnTenants, environment, row);
                }
                catch (Exception e)
                {
                    row.Failure = $"{e.GetType().Name}: {e.Message}";
                    Console.WriteLine($"host-memory: {name} failed: {row.Failure}");
                }
                rows.Add(row);
                Print(rows, tenants, churnTenants);
            }
            if (!args.Contains("--no-breakdown"))
            {
                LayerBreakdown.Run(root, [churnTenants, tenants]);
            }
            return rows.Any(r => r.Failure is not null) ? 1 : 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>10,000 tenants: start → served (one Envoy connected), steady state, then a Seed edit recompiling every tenant.</summary>
    private static async Task MeasureLargeAsync(string folder, Dictionary<string, string> environment, Row row)
    {
        var seedFile = Path.Combine(folder, "seed.yaml");
        var seed = SyntheticFolder.SeedManifest();
        File.WriteAllText(seedFile, seed);
        var started = Stopwatch.GetTimestamp();
        await using var host = HostProcess.Start(folder, environment);
        var first = await host.WaitForAppliedAsync(0, _ => true, TimeSpan.FromMinutes(10));
        row.StartSeconds = Stopwatch.GetElapsedTime(started, first.Timestamp).TotalSeconds;
        // The sidecar's Envoy: one ADS stream holding the whole snapshot (the shared listeners are encoded when first sent).
        using var channel = BenchChannels.Create(host.XdsAddress);
        await using var envoy = new AutoAckSotwClient(NodeId);
        var envoyVersions = envoy.TrackVersions();
        await envoy.StartAsync(channel);
        await envoy.Ready.WaitAsync(TimeSpan.FromMinutes(2));
        row.StartPeak = host.Memory().Peak;

        // Steady state: idle for 10 s, then the median of 5 s of samples.
        await Task.Delay(TimeSpan.FromSeconds(10));
        var samples = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            samples.Add(host.Memory().Rss);
            await Task.Delay(250);
        }
        samples.Sort();
        row.Steady = samples[samples.Count / 2];
        row.SteadyFileBacked = host.FileBackedResident();
        row.SteadyView = JsonDocument.Parse(await host.GetAsync("/debug/memory")).RootElement.Clone();

        // A full recompile: the seed's default ranges are in every tenant's effective list.
        host.ResetPeak();
        var seen = host.AppliedCount;
        var cpu = host.CpuTime();
        var edited = Stopwatch.GetTimestamp();
        var recompile = new RssSampler(host, TimeSpan.FromMilliseconds(20));
        File.WriteAllText(seedFile, seed.Replace("  - 192.0.2.0/28\n", "  - 192.0.2.0/28\n  - 198.51.100.0/24\n", StringComparison.Ordinal));
        var applied = await host.WaitForAppliedAsync(seen, a => a.Recompiled == a.Tenants, TimeSpan.FromMinutes(10));
        // Until the one Envoy has the new snapshot: the push is part of what a recompile costs in memory.
        var served = await ProbeAsync(host.XdsAddress);
        await WaitUntilAsync(() => Same(envoyVersions, served), TimeSpan.FromMinutes(2), "the Envoy stream did not get the recompiled snapshot");
        await recompile.DisposeAsync();
        row.RecompileCpuSeconds = (host.CpuTime() - cpu).TotalSeconds;
        row.RecompileWallSeconds = Stopwatch.GetElapsedTime(edited, applied.Timestamp).TotalSeconds;
        row.RecompileApplyMs = applied.Milliseconds;
        row.RecompilePeak = Math.Max(host.Memory().Peak, recompile.Max);
        await Task.Delay(TimeSpan.FromSeconds(10));
        row.AfterRecompile = host.Memory().Rss;
        row.Problems += host.Problems.Count;
        File.WriteAllText(seedFile, seed);
    }

    /// <summary>1,000 tenants, 200 clients re-opening their streams every 0.5–5 s for 40 s, two tenant edits a second.</summary>
    private static async Task MeasureChurnAsync(string folder, int tenants, Dictionary<string, string> environment, Row row)
    {
        const int Clients = 200;
        var duration = TimeSpan.FromSeconds(ChurnSeconds);
        await using var host = HostProcess.Start(folder, environment);
        await host.WaitForAppliedAsync(0, _ => true, TimeSpan.FromMinutes(5));
        await Task.Delay(TimeSpan.FromSeconds(3));
        row.ChurnStart = host.Memory().Rss;
        host.ResetPeak();
        var sampler = new RssSampler(host, TimeSpan.FromMilliseconds(20));

        // One connection per client, as each Envoy has its own.
        var channels = Enumerable.Range(0, Clients).Select(_ => BenchChannels.Create(host.XdsAddress)).ToArray();
        var errors = new ConcurrentQueue<string>();
        var current = new (AutoAckSotwClient Client, ConcurrentDictionary<string, string> Versions)?[Clients];
        var stop = DateTime.UtcNow + duration;
        var reopened = 0;
        var churn = Enumerable.Range(0, Clients).Select(i => Task.Run(async () =>
        {
            var random = new Random(i);
            while (true)
            {
                var client = new AutoAckSotwClient(NodeId);
                var versions = client.TrackVersions();
                try
                {
                    await client.StartAsync(channels[i]);
                    await client.Ready.WaitAsync(TimeSpan.FromMinutes(2));
                }
                catch (Exception e)
                {
                    errors.Enqueue($"client {i}: {e.GetType().Name}: {e.Message}");
                    await client.DisposeAsync();
                    return;
                }
                if (DateTime.UtcNow >= stop)
                {
                    current[i] = (client, versions); // the last stream stays open: it must converge
                    return;
                }
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(500, 5001)));
                await client.DisposeAsync();
                Interlocked.Increment(ref reopened);
            }
        })).ToArray();

        // Two edits a second: a random tenant's list replaced by another (a narrowing and a widening at once).
        var edits = 0;
        var editRandom = new Random(7);
        while (DateTime.UtcNow < stop)
        {
            var t = editRandom.Next(tenants);
            File.WriteAllText(Path.Combine(folder, SyntheticFolder.TenantFile(t)),
                SyntheticFolder.TenantManifests(t, SyntheticFolder.RandomRanges(editRandom, 20)));
            edits++;
            await Task.Delay(500);
        }
        await Task.WhenAll(churn).WaitAsync(TimeSpan.FromMinutes(5));

        // Converged: every client's last ACKed version of every type is what a fresh stream is served now (polled: the
        // last edits may still be applying).
        var converged = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        var clients = current.Where(c => c is not null).Select(c => c!.Value).ToList();
        while (errors.IsEmpty && clients.Count == Clients && DateTime.UtcNow < deadline)
        {
            var truth = await ProbeAsync(host.XdsAddress);
            if (clients.All(c => Same(c.Versions, truth)))
            {
                converged = true;
                break;
            }
            await Task.Delay(500);
        }
        await sampler.DisposeAsync();
        row.ChurnPeak = Math.Max(host.Memory().Peak, sampler.Max);
        row.ChurnEdits = edits;
        row.ChurnReopened = reopened;
        row.ChurnErrors = errors.Count;
        row.ChurnConverged = converged;
        foreach (var error in errors.Take(3))
        {
            Console.WriteLine($"host-memory:   {error}");
        }
        await Task.WhenAll(clients.Select(c => c.Client.DisposeAsync().AsTask()));
        foreach (var channel in channels)
        {
            channel.Dispose();
        }
        await Task.Delay(TimeSpan.FromSeconds(10));
        row.ChurnAfter = host.Memory().Rss;
        row.Problems += host.Problems.Count;
        foreach (var problem in host.Problems.Take(3))
        {
            Console.WriteLine($"host-memory:   host: {(problem.Length > 6000 ? problem[..6000] : problem)}");
        }
    }

    /// <summary>What a fresh stream is served now: the version of each type.</summary>
    private static async Task<IReadOnlyDictionary<string, string>> ProbeAsync(string address)
    {
        using var channel = BenchChannels.Create(address);
        await using var probe = new AutoAckSotwClient(NodeId);
        var versions = probe.TrackVersions();
        await probe.StartAsync(channel);
        await probe.Ready.WaitAsync(TimeSpan.FromMinutes(1));
        return new Dictionary<string, string>(versions);
    }

    private static bool Same(IReadOnlyDictionary<string, string> versions, IReadOnlyDictionary<string, string> served) =>
        served.All(kv => versions.TryGetValue(kv.Key, out var v) && v == kv.Value);

    /// <summary>The version of each type the client has last ACKed (written on its pump, read from anywhere).</summary>
    private static ConcurrentDictionary<string, string> TrackVersions(this AutoAckSotwClient client)
    {
        var versions = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);
        client.OnAcked = (response, _) => versions[response.TypeUrl] = response.VersionInfo;
        return versions;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(failure);
            }
            await Task.Delay(20);
        }
    }

    private static void Print(List<Row> rows, int tenants, int churnTenants)
    {
        var baseline = rows[0];
        Console.WriteLine();
        Console.WriteLine($"Host memory (MB = 10^6 bytes, resident; ratio against '{baseline.Name}'): {tenants:N0} tenants steady and full recompile, " +
            $"{churnTenants:N0} tenants under reconnect churn");
        Console.WriteLine("| setting | start → served | start peak | steady | recompile peak | recompile apply / wall / CPU | after recompile | churn start | churn peak | churn after 10 s | churn: edits, reopens, errors, converged |");
        Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|");
        foreach (var r in rows)
        {
            if (r.Failure is not null)
            {
                Console.WriteLine($"| {r.Name} | failed: {r.Failure} |");
                continue;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.StartSeconds:F1} s | {Mb(r.StartPeak, baseline.StartPeak)} | {Mb(r.Steady, baseline.Steady)} | " +
                $"{Mb(r.RecompilePeak, baseline.RecompilePeak)} | {r.RecompileApplyMs / 1000:F2} / {r.RecompileWallSeconds:F2} / {r.RecompileCpuSeconds:F2} s " +
                $"({Ratio(r.RecompileCpuSeconds, baseline.RecompileCpuSeconds)} CPU) | {Mb(r.AfterRecompile, baseline.AfterRecompile)} | " +
                $"{Mb(r.ChurnStart, baseline.ChurnStart)} | {Mb(r.ChurnPeak, baseline.ChurnPeak)} | {Mb(r.ChurnAfter, baseline.ChurnAfter)} | " +
                $"{r.ChurnEdits}, {r.ChurnReopened}, {r.ChurnErrors + r.Problems}, {(r.ChurnConverged ? "yes" : "NO")} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"Where the steady {tenants:N0}-tenant process's memory is (/debug/memory: the GC's figures at its last collection):");
        Console.WriteLine("| setting | resident | GC heaps | managed live | fragmented (free blocks) | committed, not heap (headroom) | " +
            "outside the GC heap: mapped files (assemblies) | outside the GC heap: anonymous (GC bookkeeping, JIT code, native heaps, stacks) |");
        Console.WriteLine("|---|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var r in rows.Where(r => r.SteadyView.ValueKind == JsonValueKind.Object))
        {
            var v = r.SteadyView;
            long L(string name) => v.GetProperty(name).GetInt64();
            var heaps = v.GetProperty("gc").TryGetProperty("HeapCount", out var h) ? h.GetString() : "?";
            var committed = L("managedCommittedBytes");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {Mb(r.Steady)} | {heaps} | {Mb(L("managedLiveBytesAtLastCollection"))} | {Mb(L("managedFragmentedBytes"))} | " +
                $"{Mb(committed - L("managedHeapBytes"))} | {Mb(r.SteadyFileBacked)} | {Mb(r.Steady - committed - r.SteadyFileBacked)} |"));
        }
        Console.WriteLine();
    }

    private static string Mb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F0}");

    private static string Mb(long bytes, long baseline) => $"{Mb(bytes)} ({Ratio(bytes, baseline)})";

    private static string Ratio(double value, double baseline) =>
        baseline > 0 ? string.Create(CultureInfo.InvariantCulture, $"{value / baseline:F2}×") : "–";

    private static string? Arg(string[] args, string name) =>
        Array.IndexOf(args, name) is >= 0 and var i && i + 1 < args.Length ? args[i + 1] : null;

    private static int IntArg(string[] args, string name, int fallback) =>
        Arg(args, name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    private sealed class Row(string name)
    {
        public string Name { get; } = name;
        public string? Failure { get; set; }
        public double StartSeconds { get; set; }
        public long StartPeak { get; set; }
        public long Steady { get; set; }
        public long SteadyFileBacked { get; set; }
        public JsonElement SteadyView { get; set; }
        public long RecompilePeak { get; set; }
        public double RecompileApplyMs { get; set; }
        public double RecompileWallSeconds { get; set; }
        public double RecompileCpuSeconds { get; set; }
        public long AfterRecompile { get; set; }
        public long ChurnStart { get; set; }
        public long ChurnPeak { get; set; }
        public long ChurnAfter { get; set; }
        public int ChurnEdits { get; set; }
        public int ChurnReopened { get; set; }
        public int ChurnErrors { get; set; }
        public bool ChurnConverged { get; set; }
        public int Problems { get; set; }
    }
}
