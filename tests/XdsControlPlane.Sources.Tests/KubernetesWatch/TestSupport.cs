using System.Collections.Concurrent;
using System.Text.Json;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>Builders for the objects a seed holds, shaped as KKP creates them.</summary>
public static class Objects
{
    public static KkpSeed Seed(string name = "europe-west", params string[] defaultRanges) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = "kubermatic",
            Annotations = new Dictionary<string, string> { [Annotations.CloudProvider] = "aws" },
        },
        Spec = new KkpSeedSpec { DefaultAPIServerAllowedIPRanges = defaultRanges.Length == 0 ? null : [.. defaultRanges] },
    };

    public static KkpCluster Cluster(string id, string strategy = "Tunneling", params string[] cidrs) => new()
    {
        Metadata = new V1ObjectMeta { Name = id },
        Spec = new KkpClusterSpec
        {
            ExposeStrategy = strategy,
            HumanReadableName = $"tenant {id}",
            ApiServerAllowedIPRanges = cidrs.Length == 0 ? null : new KkpNetworkRanges { CidrBlocks = [.. cidrs] },
            Cloud = new KkpCloudSpec { ProviderName = "aws", DatacenterName = "aws-eu-central-1a" },
        },
    };

    /// <summary>KKP's <c>apiserver-external</c> Service of a Tunneling cluster.</summary>
    public static V1Service ApiServerService(string id, string domain = "europe-west.kkp.example.com") => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "apiserver-external",
            NamespaceProperty = $"cluster-{id}",
            Annotations = new Dictionary<string, string>
            {
                [Annotations.DefaultExposeKey] = "SNI,Tunneling",
                [Annotations.PortMapping] = JsonSerializer.Serialize(new Dictionary<string, string> { ["secure"] = $"{id}.{domain}" }),
            },
        },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            Ports = [new V1ServicePort { Name = "secure", Port = 443, Protocol = "TCP", TargetPort = 30443 }],
        },
    };

    public static V1Service UnexposedService(string ns, string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
        Spec = new V1ServiceSpec { Type = "ClusterIP", Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }] },
    };

    public static V1EndpointSlice ApiServerSlice(string id, params string[] addresses) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = "apiserver-external-abcde",
            NamespaceProperty = $"cluster-{id}",
            Labels = new Dictionary<string, string> { [Annotations.ServiceNameLabel] = "apiserver-external" },
        },
        AddressType = "IPv4",
        Ports = [new Discoveryv1EndpointPort { Name = "secure", Port = 30443, Protocol = "TCP" }],
        Endpoints = addresses.Select(a => new V1Endpoint { Addresses = [a], Conditions = new V1EndpointConditions { Ready = true } }).ToList(),
    };

    /// <summary>Puts one tenant (Cluster, Service, EndpointSlice) on the stand-in.</summary>
    public static void AddTenant(FakeApiServer server, string id, params string[] cidrs)
    {
        server.Upsert("clusters", Cluster(id, "Tunneling", cidrs));
        server.Upsert("services", ApiServerService(id));
        server.Upsert("endpointslices", ApiServerSlice(id, "10.244.0.10"));
    }
}

/// <summary>A logger that keeps every entry (event name first) and echoes it to the test output.</summary>
public sealed class RecordingLogger(ITestOutputHelper? output = null, LogLevel echoLevel = LogLevel.Information) : ILogger
{
    public ConcurrentQueue<(LogLevel Level, string EventName, string Message)> Entries { get; } = new();

    /// <summary>The exception logged with each entry, if any (stack traces belong at Debug only).</summary>
    public ConcurrentQueue<(LogLevel Level, string EventName, Exception? Exception)> Exceptions { get; } = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var message = formatter(state, exception);
        Entries.Enqueue((logLevel, eventId.Name ?? "", message));
        Exceptions.Enqueue((logLevel, eventId.Name ?? "", exception));
        if (output is not null && logLevel >= echoLevel)
        {
            try
            {
                output.WriteLine($"{logLevel} {eventId.Name}: {message}{(exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message.Split('\n')[0]})")}");
            }
            catch (InvalidOperationException)
            {
                // the test has finished
            }
        }
    }

    public int Count(string eventName) => Entries.Count(e => e.EventName == eventName);
}

/// <summary>Everything the source published, and ways to wait for it.</summary>
public sealed class InventorySink
{
    private readonly Lock _gate = new();
    private readonly List<SeedInventory> _all = [];

    public IReadOnlyList<SeedInventory> All
    {
        get
        {
            lock (_gate)
            {
                return _all.ToList();
            }
        }
    }

    public SeedInventory? Latest
    {
        get
        {
            lock (_gate)
            {
                return _all.Count == 0 ? null : _all[^1];
            }
        }
    }

    public Task OnInventory(SeedInventory inventory, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _all.Add(inventory);
        }
        return Task.CompletedTask;
    }

    public async Task<SeedInventory> WaitForAsync(Func<SeedInventory, bool> predicate, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (DateTime.UtcNow < deadline)
        {
            var latest = Latest;
            if (latest is not null && predicate(latest))
            {
                return latest;
            }
            await Task.Delay(10);
        }
        throw new TimeoutException($"no published inventory showed: {what} (last: {Describe(Latest)})");
    }

    public static string Describe(SeedInventory? inventory) => inventory is null
        ? "none"
        : $"seeds [{string.Join(",", inventory.Seeds.Select(s => s.Metadata.Name))}], clusters [{string.Join(",", inventory.Clusters.Take(20).Select(c => c.Metadata.Name))}], " +
          $"{inventory.Services.Count} services, {inventory.EndpointSlices.Count} slices";
}

public static class Wait
{
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for: {what}");
            }
            await Task.Delay(10);
        }
    }
}

/// <summary>A stand-in API server and a running Kubernetes source pointed at it.</summary>
public sealed class SourceHarness : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _run;

    private SourceHarness(FakeApiServer server, ITestOutputHelper output)
    {
        Server = server;
        Logger = new RecordingLogger(output);
    }

    public FakeApiServer Server { get; }

    public RecordingLogger Logger { get; }

    public InventorySink Sink { get; } = new();

    public KubernetesSource Source { get; private set; } = null!;

    /// <summary>Options for tests: short delays, so failures recover within a test's patience.</summary>
    public static KubernetesSourceOptions TestOptions { get; } = new()
    {
        Debounce = TimeSpan.FromMilliseconds(20),
        MaxDelay = TimeSpan.FromMilliseconds(200),
        BackoffInitial = TimeSpan.FromMilliseconds(50),
        BackoffMax = TimeSpan.FromMilliseconds(400),
        WatchTimeout = TimeSpan.FromSeconds(60),
        WatchdogTimeout = TimeSpan.FromSeconds(30),
    };

    public static async Task<SourceHarness> CreateAsync(ITestOutputHelper output) => new(await FakeApiServer.StartAsync(), output);

    public void Start(KubernetesSourceOptions? options = null, TimeProvider? time = null)
    {
        Source = new KubernetesSource(Server.CreateClient(), options ?? TestOptions, Logger, time);
        _run = Source.RunAsync(Sink.OnInventory, _stop.Token);
    }

    public InformerStatus Informer(string resource) => Source.GetStatus().Informers.Single(i => i.Resource == resource);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await _run.WaitAsync(TimeSpan.FromSeconds(10));
        }
        await Server.DisposeAsync();
        _stop.Dispose();
        Assert.Empty(Server.Failures);
    }
}
