using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Model;

namespace XdsControlPlane.Sources.Kubernetes.Watch;

/// <summary>
/// Tells a tenant's operators about problems with their Cluster (and the seed's operators about a missing or ambiguous
/// Seed, on the Seed in its namespace) (an invalid allowlist, a conflicting hostname, a
/// list that cannot be enforced) as core/v1 Events on the KKP Cluster (<c>kubectl describe cluster &lt;id&gt;</c>):
/// type Warning, reason = the diagnostic code, message = what is wrong and what to do.
/// <para>
/// Deduplicated as Kubernetes' own recorder does: one Event per (cluster, reason, message), named deterministically
/// so a restarted replica finds it again; while the problem persists its <c>count</c> rises at most once per
/// <see cref="ClusterEventRecorderOptions.RepeatInterval"/>, and once more each time it comes back after going away.
/// Only Event objects are written: never the Cluster, its status or anything else KKP owns.
/// </para>
/// </summary>
public sealed class ClusterEventRecorder
{
    private readonly IKubernetes _client;
    private readonly ILogger _logger;
    private readonly ClusterEventRecorderOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _serial = new(1, 1);
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Channel<(Func<SeedInventory> Inventory, IReadOnlyList<Diagnostic> Diagnostics)> _queue;
    private long _dropped;
    private long _written;

    /// <summary>Seed-wide problems reported on the Seed (in its namespace) rather than on a Cluster.</summary>
    public static IReadOnlySet<string> SeedCodes { get; } = new HashSet<string>(StringComparer.Ordinal) { "SeedMissing", "SeedAmbiguous" };

    public ClusterEventRecorder(IKubernetes client, ILogger logger, ClusterEventRecorderOptions? options = null, TimeProvider? timeProvider = null)
    {
        _client = client;
        _logger = logger;
        _options = options ?? new ClusterEventRecorderOptions();
        _time = timeProvider ?? TimeProvider.System;
        _queue = Channel.CreateBounded<(Func<SeedInventory>, IReadOnlyList<Diagnostic>)>(
            new BoundedChannelOptions(Math.Max(1, _options.QueueCapacity)) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            _ => Interlocked.Increment(ref _dropped));
    }

    /// <summary>Translations dropped unwritten because the queue was full (the API server was slower than the changes).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Translations the writer has recorded (each one a <see cref="RecordAsync"/>).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Translations waiting for the writer.</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>
    /// Hands one translation's diagnostics to the writer (<see cref="RunWriterAsync"/>) and returns at once: the publishing
    /// path never waits for the API server. When the queue is full the oldest translation is dropped (and counted): each
    /// one is a complete statement of what is wrong, so the newest says all that still matters.
    /// </summary>
    public void Enqueue(SeedInventory inventory, IReadOnlyList<Diagnostic> diagnostics) => Enqueue(() => inventory, diagnostics);

    /// <summary>
    /// As <see cref="Enqueue(SeedInventory, IReadOnlyList{Diagnostic})"/>, the inventory put together by the writer when it
    /// takes the batch (it is O(all objects); the publishing path only says what changed).
    /// </summary>
    public void Enqueue(Func<SeedInventory> inventory, IReadOnlyList<Diagnostic> diagnostics) => _queue.Writer.TryWrite((inventory, diagnostics));

    /// <summary>The writer: records the queued translations one at a time until cancelled.</summary>
    public async Task RunWriterAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var (inventory, diagnostics) in _queue.Reader.ReadAllAsync(cancellationToken))
            {
                await RecordAsync(inventory(), diagnostics, cancellationToken);
                Interlocked.Increment(ref _written);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Records the tenant diagnostics (warnings and errors with a TenantId) of one translation of <paramref name="inventory"/>.
    /// Call it with every translation: what is no longer reported is forgotten, what persists is not repeated.
    /// Failures to write are logged and retried on the next call; this never throws except on cancellation.
    /// </summary>
    public async Task<EventRecordResult> RecordAsync(SeedInventory inventory, IReadOnlyList<Diagnostic> diagnostics, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken);
        try
        {
            var clusters = inventory.Clusters.ToDictionary(c => c.Metadata.Name, StringComparer.Ordinal);
            int created = 0, updated = 0, unchanged = 0, noCluster = 0, failed = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var now = _time.GetUtcNow();
            foreach (var diagnostic in diagnostics)
            {
                if (diagnostic.Severity < DiagnosticSeverity.Warning)
                {
                    continue;
                }
                Target target;
                if (diagnostic.TenantId is { } tenant)
                {
                    if (!clusters.TryGetValue(tenant, out var cluster))
                    {
                        noCluster++;
                        KubernetesSourceLog.EventSkipped(_logger, diagnostic.Code, tenant);
                        continue;
                    }
                    target = new Target(_options.Namespace, tenant, new V1ObjectReference
                    {
                        ApiVersion = $"{KkpCluster.Group}/{KkpCluster.Version}",
                        Kind = KkpCluster.KindName,
                        Name = cluster.Metadata.Name,
                        Uid = cluster.Metadata.Uid,
                    });
                }
                else if (SeedCodes.Contains(diagnostic.Code))
                {
                    var seedName = _options.SeedName ?? "";
                    target = new Target(_options.SeedNamespace, $"seed{(seedName.Length > 0 ? "-" : "")}{seedName}", new V1ObjectReference
                    {
                        ApiVersion = $"{KkpCluster.Group}/{KkpCluster.Version}",
                        Kind = KkpSeed.KindName,
                        Name = seedName,
                        NamespaceProperty = _options.SeedNamespace,
                    });
                }
                else if (diagnostic.Code == "SourceIpNotPreserved" && diagnostic.Object.Split('/') is ["Service", var serviceNs, var serviceName])
                {
                    // On the nodeport-proxy's Service itself: `kubectl describe service` shows the fix where it is made.
                    var service = inventory.Services.FirstOrDefault(x => x.Metadata.Name == serviceName && x.Metadata.NamespaceProperty == serviceNs);
                    target = new Target(serviceNs, $"service-{serviceName}", new V1ObjectReference
                    {
                        ApiVersion = "v1",
                        Kind = "Service",
                        Name = serviceName,
                        NamespaceProperty = serviceNs,
                        Uid = service?.Metadata.Uid,
                    });
                }
                else
                {
                    continue;
                }
                var message = Truncate(diagnostic.ToString());
                var name = EventName(target.Prefix, diagnostic.Code, message);
                if (!seen.Add(name))
                {
                    continue;
                }
                _entries.TryGetValue(name, out var entry);
                if (entry is { Active: true } && now - entry.LastWrite < _options.RepeatInterval)
                {
                    unchanged++;
                    continue;
                }
                try
                {
                    if (entry is null)
                    {
                        var count = await CreateOrBumpAsync(name, target, diagnostic.Code, message, now, cancellationToken);
                        _entries[name] = new Entry { Count = count, LastWrite = now, Active = true };
                        if (count == 1)
                        {
                            created++;
                        }
                        else
                        {
                            updated++;
                        }
                        KubernetesSourceLog.EventRecorded(_logger, diagnostic.Code, target.Prefix, count == 1 ? "created" : "found and counted", count);
                    }
                    else
                    {
                        var count = await BumpAsync(name, target, diagnostic.Code, message, entry.Count, now, cancellationToken);
                        entry.Count = count;
                        entry.LastWrite = now;
                        entry.Active = true;
                        updated++;
                        KubernetesSourceLog.EventRecorded(_logger, diagnostic.Code, target.Prefix, "counted", count);
                    }
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or k8s.Exceptions.KubernetesClientException)
                {
                    failed++;
                    KubernetesSourceLog.EventFailed(_logger, e, diagnostic.Code, target.Prefix);
                }
            }
            foreach (var (name, entry) in _entries.ToList())
            {
                if (!seen.Contains(name))
                {
                    entry.Active = false;
                    // The API server drops events after an hour (--event-ttl); so do we.
                    if (now - entry.LastWrite > TimeSpan.FromHours(1))
                    {
                        _entries.Remove(name);
                    }
                }
            }
            return new EventRecordResult(created, updated, unchanged, noCluster, failed);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Deterministic: the same problem on the same cluster is the same Event, also for another replica or after a restart.</summary>
    public static string EventName(string cluster, string reason, string message)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{reason}\n{message}"));
        return $"{cluster}.{Convert.ToHexStringLower(hash.AsSpan(0, 8))}";
    }

    private async Task<int> CreateOrBumpAsync(string name, Target target, string reason, string message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var ev = new Corev1Event
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = target.Namespace },
            InvolvedObject = target.Object,
            Reason = reason,
            Message = message,
            Type = "Warning",
            Count = 1,
            FirstTimestamp = now.UtcDateTime,
            LastTimestamp = now.UtcDateTime,
            Source = new V1EventSource { Component = _options.Component },
            ReportingComponent = _options.Component,
            ReportingInstance = _options.Instance,
        };
        try
        {
            using var _ = await _client.CoreV1.CreateNamespacedEventWithHttpMessagesAsync(ev, target.Namespace, cancellationToken: cancellationToken);
            return 1;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Recorded before (by another replica, or before a restart): count this occurrence on it.
            using var existing = await _client.CoreV1.ReadNamespacedEventWithHttpMessagesAsync(name, target.Namespace, cancellationToken: cancellationToken);
            return await BumpAsync(name, target, reason, message, existing.Body.Count ?? 1, now, cancellationToken);
        }
    }

    private async Task<int> BumpAsync(string name, Target target, string reason, string message, int count, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var patch = new JsonObject
        {
            ["count"] = count + 1,
            ["lastTimestamp"] = now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        try
        {
            using var _ = await _client.CoreV1.PatchNamespacedEventWithHttpMessagesAsync(
                new V1Patch(patch.ToJsonString(), V1Patch.PatchType.MergePatch), name, target.Namespace, cancellationToken: cancellationToken);
            return count + 1;
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            // Expired (event TTL) or deleted: start again.
            return await CreateOrBumpAsync(name, target, reason, message, now, cancellationToken);
        }
    }

    private static string Truncate(string message) =>
        message.Length <= ClusterEventRecorderOptions.MaxMessageLength ? message : message[..(ClusterEventRecorderOptions.MaxMessageLength - 3)] + "...";

    /// <summary>Where an Event goes: its namespace, the prefix of its name, and the object it is about.</summary>
    private sealed record Target(string Namespace, string Prefix, V1ObjectReference Object);

    private sealed class Entry
    {
        public int Count { get; set; }

        public DateTimeOffset LastWrite { get; set; }

        public bool Active { get; set; }
    }
}
