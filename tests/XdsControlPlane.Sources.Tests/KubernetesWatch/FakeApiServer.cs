using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>How the stand-in answers the next watch request of a resource.</summary>
public enum WatchMode
{
    Normal,

    /// <summary>200 and headers, then nothing at all until the client goes away.</summary>
    Hang,

    /// <summary>HTTP 410 with a Status body.</summary>
    HttpGone,
}

/// <summary>One request the stand-in saw.</summary>
public sealed record RecordedRequest(string Method, string Resource, string? Namespace, string? Name, IReadOnlyDictionary<string, string> Query, string? Body)
{
    public bool IsWatch => Query.TryGetValue("watch", out var w) && (w == "true" || w == "1");

    public string? ResourceVersion => Query.GetValueOrDefault("resourceVersion");
}

/// <summary>
/// An API-server stand-in on Kestrel (loopback, port 0) speaking the list/watch protocol: lists with
/// metadata.resourceVersion and limit/continue paging, a <c>metadata.name</c> field selector and a label-exists
/// selector; <c>?watch=true</c> as a chunked stream of newline-delimited
/// events (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) replayed from the requested resourceVersion; 410 Gone for a
/// compacted resourceVersion (as an ERROR event or as the HTTP status); dropped and hung watches on request;
/// create/patch/get of core/v1 Events.
/// </summary>
public sealed class FakeApiServer : IAsyncDisposable
{
    private static readonly Dictionary<string, (string ApiVersion, string Kind)> Kinds = new(StringComparer.Ordinal)
    {
        ["clusters"] = ("kubermatic.k8c.io/v1", "Cluster"),
        ["seeds"] = ("kubermatic.k8c.io/v1", "Seed"),
        ["services"] = ("v1", "Service"),
        ["endpointslices"] = ("discovery.k8s.io/v1", "EndpointSlice"),
        ["events"] = ("v1", "Event"),
    };

    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ResourceState> _resources = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long ResourceVersion, List<string> Items)> _continuations = new(StringComparer.Ordinal);
    private long _resourceVersion = 1000;

    private FakeApiServer(WebApplication app)
    {
        _app = app;
        foreach (var name in Kinds.Keys)
        {
            _resources[name] = new ResourceState();
        }
    }

    public string Url { get; private set; } = "";

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    /// <summary>Exceptions of the stand-in itself (a test bug, not a protocol event).</summary>
    public ConcurrentQueue<Exception> Failures { get; } = new();

    /// <summary>Compacted watches answer with an ERROR event (true) or with HTTP 410 (false).</summary>
    public bool GoneAsErrorEvent { get; set; } = true;

    public static async Task<FakeApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeApiServer(app);
        app.Run(async context =>
        {
            try
            {
                await server.HandleAsync(context);
            }
            catch (Exception e)
            {
                server.Failures.Enqueue(e);
                throw;
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal);
        return server;
    }

    public IKubernetes CreateClient() => new k8s.Kubernetes(new KubernetesClientConfiguration { Host = Url });

    public long CurrentResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _resourceVersion;
            }
        }
    }

    public IReadOnlyList<RecordedRequest> WatchRequests(string resource) =>
        Requests.Where(r => r.Resource == resource && r.Method == "GET" && r.IsWatch).ToList();

    public int OpenWatches(string resource)
    {
        lock (_gate)
        {
            return _resources[resource].Subscribers.Count;
        }
    }

    /// <summary>Creates or replaces an object; watchers see ADDED/MODIFIED unless <paramref name="silently"/> (a change made while no watch was looking).</summary>
    public long Upsert(string resource, object obj, bool silently = false) =>
        Upsert(resource, JsonNode.Parse(obj as string ?? KubernetesJson.Serialize(obj))!.AsObject(), silently);

    public long Upsert(string resource, JsonObject obj, bool silently = false)
    {
        var metadata = obj["metadata"]!.AsObject();
        var key = Key(metadata["namespace"]?.GetValue<string>(), metadata["name"]!.GetValue<string>());
        lock (_gate)
        {
            var state = _resources[resource];
            var rv = ++_resourceVersion;
            metadata["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
            var json = obj.ToJsonString();
            var type = state.Objects.ContainsKey(key) ? "MODIFIED" : "ADDED";
            var name = metadata["name"]!.GetValue<string>();
            state.Objects[key] = new StoredObject(metadata["namespace"]?.GetValue<string>(), name, json, obj);
            if (!silently)
            {
                Publish(state, rv, type, json, metadata["namespace"]?.GetValue<string>(), name);
            }
            return rv;
        }
    }

    public long Delete(string resource, string? ns, string name, bool silently = false)
    {
        lock (_gate)
        {
            var state = _resources[resource];
            var key = Key(ns, name);
            if (!state.Objects.Remove(key, out var stored))
            {
                throw new KeyNotFoundException(key);
            }
            var rv = ++_resourceVersion;
            var obj = stored.Node.DeepClone().AsObject();
            obj["metadata"]!["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture);
            if (!silently)
            {
                Publish(state, rv, "DELETED", obj.ToJsonString(), ns, name);
            }
            return rv;
        }
    }

    /// <summary>Sends a BOOKMARK at the current resourceVersion to the open watches of a resource.</summary>
    public long SendBookmark(string resource)
    {
        lock (_gate)
        {
            var (apiVersion, kind) = Kinds[resource];
            var rv = _resourceVersion.ToString(CultureInfo.InvariantCulture);
            var line = new JsonObject
            {
                ["type"] = "BOOKMARK",
                ["object"] = new JsonObject { ["kind"] = kind, ["apiVersion"] = apiVersion, ["metadata"] = new JsonObject { ["resourceVersion"] = rv } },
            }.ToJsonString();
            foreach (var subscriber in _resources[resource].Subscribers)
            {
                subscriber.Messages.Writer.TryWrite(new WatchMessage(line, WatchAction.Write));
            }
            return _resourceVersion;
        }
    }

    /// <summary>Forgets history: watches from an older resourceVersion are answered with 410 Gone.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            foreach (var state in _resources.Values)
            {
                state.CompactedBelow = _resourceVersion;
                state.History.Clear();
            }
        }
    }

    /// <summary>Sends an ERROR event with a Status to the open watches of a resource, then closes them (as the API server does).</summary>
    public void SendError(string resource, int code = 410, string reason = "Gone")
    {
        var line = ErrorLine(code, reason);
        lock (_gate)
        {
            foreach (var subscriber in _resources[resource].Subscribers)
            {
                subscriber.Messages.Writer.TryWrite(new WatchMessage(line, WatchAction.Write));
                subscriber.Messages.Writer.TryWrite(new WatchMessage(null, WatchAction.Close));
            }
        }
    }

    /// <summary>Breaks the TCP connections of the open watches of a resource, mid-stream.</summary>
    public void DropWatches(string resource)
    {
        lock (_gate)
        {
            foreach (var subscriber in _resources[resource].Subscribers)
            {
                subscriber.Messages.Writer.TryWrite(new WatchMessage(null, WatchAction.Abort));
            }
        }
    }

    public void EnqueueWatchMode(string resource, WatchMode mode)
    {
        lock (_gate)
        {
            _resources[resource].NextWatchModes.Enqueue(mode);
        }
    }

    /// <summary>List requests of the resource wait for this task (to hold one informer back from its first sync).</summary>
    public void HoldLists(string resource, Task gate)
    {
        lock (_gate)
        {
            _resources[resource].ListGate = gate;
        }
    }

    /// <summary>Create and patch requests of the resource wait for this task (an API server slow to take Events).</summary>
    public void HoldWrites(string resource, Task gate)
    {
        lock (_gate)
        {
            _resources[resource].WriteGate = gate;
        }
    }

    /// <summary>The next <paramref name="count"/> list requests of the resource fail with 500.</summary>
    public void FailLists(string resource, int count)
    {
        lock (_gate)
        {
            _resources[resource].ListFailures = count;
        }
    }

    public IReadOnlyList<JsonObject> Objects(string resource)
    {
        lock (_gate)
        {
            return _resources[resource].Objects.Values.Select(o => o.Node.DeepClone().AsObject()).ToList();
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            foreach (var state in _resources.Values)
            {
                foreach (var subscriber in state.Subscribers)
                {
                    subscriber.Messages.Writer.TryWrite(new WatchMessage(null, WatchAction.Close));
                }
            }
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync();
    }

    private void Publish(ResourceState state, long rv, string type, string json, string? ns, string name)
    {
        var line = $"{{\"type\":\"{type}\",\"object\":{json}}}";
        state.History.Add(new HistoryEntry(rv, ns, name, line));
        foreach (var subscriber in state.Subscribers)
        {
            if ((subscriber.Namespace is null || subscriber.Namespace == ns) && (subscriber.Name is null || subscriber.Name == name))
            {
                subscriber.Messages.Writer.TryWrite(new WatchMessage(line, WatchAction.Write));
            }
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        // /api/v1[/namespaces/{ns}]/{resource}[/{name}] or /apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}]
        var segments = context.Request.Path.Value!.Trim('/').Split('/');
        var rest = segments[0] == "api" ? segments[2..] : segments[3..];
        string? ns = null;
        if (rest.Length >= 2 && rest[0] == "namespaces")
        {
            ns = rest[1];
            rest = rest[2..];
        }
        var resource = rest.Length > 0 ? rest[0] : "";
        var name = rest.Length > 1 ? rest[1] : null;
        var query = context.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString(), StringComparer.Ordinal);
        string? body = null;
        if (context.Request.ContentLength > 0 || context.Request.Method is "POST" or "PATCH" or "PUT")
        {
            using var reader = new StreamReader(context.Request.Body);
            body = await reader.ReadToEndAsync();
        }
        var request = new RecordedRequest(context.Request.Method, resource, ns, name, query, body);
        Requests.Enqueue(request);
        if (!Kinds.ContainsKey(resource))
        {
            await WriteStatusAsync(context, 404, "NotFound", $"no resource {resource}");
            return;
        }
        switch (context.Request.Method)
        {
            case "GET" when name is not null:
                await GetAsync(context, resource, ns, name);
                break;
            case "GET" when request.IsWatch:
                await WatchAsync(context, resource, ns, query);
                break;
            case "GET":
                await ListAsync(context, resource, ns, query);
                break;
            case "POST":
                await WriteGateOf(resource).WaitAsync(context.RequestAborted);
                await CreateAsync(context, resource, ns, body!);
                break;
            case "PATCH" when name is not null:
                await WriteGateOf(resource).WaitAsync(context.RequestAborted);
                await PatchAsync(context, resource, ns, name, body!);
                break;
            default:
                await WriteStatusAsync(context, 405, "MethodNotAllowed", context.Request.Method);
                break;
        }
    }

    private Task WriteGateOf(string resource)
    {
        lock (_gate)
        {
            return _resources[resource].WriteGate;
        }
    }

    private async Task GetAsync(HttpContext context, string resource, string? ns, string name)
    {
        string? json;
        lock (_gate)
        {
            json = _resources[resource].Objects.TryGetValue(Key(ns, name), out var stored) ? stored.Json : null;
        }
        if (json is null)
        {
            await WriteStatusAsync(context, 404, "NotFound", $"{resource} {name} not found");
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    private async Task CreateAsync(HttpContext context, string resource, string? ns, string body)
    {
        var obj = JsonNode.Parse(body)!.AsObject();
        var name = obj["metadata"]?["name"]?.GetValue<string>();
        obj["metadata"]!["namespace"] = ns;
        bool exists;
        lock (_gate)
        {
            exists = name is not null && _resources[resource].Objects.ContainsKey(Key(ns, name));
        }
        if (name is null || exists)
        {
            await WriteStatusAsync(context, 409, "AlreadyExists", $"{resource} {name} already exists");
            return;
        }
        Upsert(resource, obj);
        context.Response.StatusCode = 201;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(obj.ToJsonString());
    }

    private async Task PatchAsync(HttpContext context, string resource, string? ns, string name, string body)
    {
        JsonObject? merged;
        lock (_gate)
        {
            merged = _resources[resource].Objects.TryGetValue(Key(ns, name), out var stored) ? stored.Node.DeepClone().AsObject() : null;
        }
        if (merged is null)
        {
            await WriteStatusAsync(context, 404, "NotFound", $"{resource} {name} not found");
            return;
        }
        MergePatch(merged, JsonNode.Parse(body)!.AsObject());
        Upsert(resource, merged);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(merged.ToJsonString());
    }

    private static void MergePatch(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToList())
        {
            if (value is JsonObject child && target[key] is JsonObject existing)
            {
                MergePatch(existing, child);
            }
            else if (value is null)
            {
                target.Remove(key);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }
    }

    private async Task ListAsync(HttpContext context, string resource, string? ns, Dictionary<string, string> query)
    {
        Task gate;
        lock (_gate)
        {
            gate = _resources[resource].ListGate;
        }
        await gate.WaitAsync(context.RequestAborted);
        bool fail;
        lock (_gate)
        {
            var state = _resources[resource];
            fail = state.ListFailures > 0;
            state.ListFailures--;
        }
        if (fail)
        {
            await WriteStatusAsync(context, 500, "InternalError", "etcd is having a bad day");
            return;
        }
        var limit = query.TryGetValue("limit", out var l) ? int.Parse(l, CultureInfo.InvariantCulture) : int.MaxValue;
        long rv;
        List<string> items;
        var offset = 0;
        if (query.TryGetValue("continue", out var token) && token.Length > 0)
        {
            var parts = token.Split(':');
            if (!_continuations.TryGetValue(parts[0], out var snapshot))
            {
                await WriteStatusAsync(context, 410, "Expired", "the continue token has expired");
                return;
            }
            (rv, items) = snapshot;
            offset = int.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        else
        {
            var selector = query.GetValueOrDefault("labelSelector");
            var named = NameSelected(query);
            lock (_gate)
            {
                rv = _resourceVersion;
                items = _resources[resource].Objects
                    .Where(o => ns is null || o.Value.Namespace == ns)
                    .Where(o => named is null || o.Value.Name == named)
                    .Where(o => string.IsNullOrEmpty(selector) || o.Value.Node["metadata"]?["labels"]?[selector] is not null)
                    .OrderBy(o => o.Key, StringComparer.Ordinal)
                    .Select(o => o.Value.Json)
                    .ToList();
            }
        }
        var page = items.Skip(offset).Take(limit).ToList();
        string? next = null;
        var id = token?.Split(':')[0];
        if (offset + page.Count < items.Count)
        {
            id ??= Guid.NewGuid().ToString("N");
            _continuations[id] = (rv, items);
            next = $"{id}:{offset + page.Count}";
        }
        else if (id is not null)
        {
            // The last page: the snapshot is no longer needed (a large list would otherwise stay in memory).
            _continuations.TryRemove(id, out _);
        }
        var (apiVersion, kind) = Kinds[resource];
        context.Response.ContentType = "application/json";
        var metadata = new JsonObject { ["resourceVersion"] = rv.ToString(CultureInfo.InvariantCulture) };
        if (next is not null)
        {
            metadata["continue"] = next;
        }
        await context.Response.WriteAsync(
            $"{{\"apiVersion\":\"{apiVersion}\",\"kind\":\"{kind}List\",\"metadata\":{metadata.ToJsonString()},\"items\":[{string.Join(',', page)}]}}");
    }

    private async Task WatchAsync(HttpContext context, string resource, string? ns, Dictionary<string, string> query)
    {
        var from = long.TryParse(query.GetValueOrDefault("resourceVersion"), CultureInfo.InvariantCulture, out var v) ? v : 0;
        WatchMode mode;
        Subscriber? subscriber = null;
        List<string> backlog = [];
        bool gone;
        lock (_gate)
        {
            var state = _resources[resource];
            mode = state.NextWatchModes.TryDequeue(out var m) ? m : WatchMode.Normal;
            gone = from < state.CompactedBelow;
            if (mode == WatchMode.Normal && !gone)
            {
                var named = NameSelected(query);
                backlog = state.History.Where(h => h.ResourceVersion > from && (ns is null || h.Namespace == ns) && (named is null || h.Name == named))
                    .Select(h => h.Line).ToList();
                subscriber = new Subscriber(ns, named);
                state.Subscribers.Add(subscriber);
            }
        }
        if (mode == WatchMode.HttpGone || (gone && !GoneAsErrorEvent))
        {
            await WriteStatusAsync(context, 410, "Gone", $"too old resource version: {from}");
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.StartAsync();
        await context.Response.Body.FlushAsync();
        if (gone)
        {
            await context.Response.WriteAsync(ErrorLine(410, "Gone") + "\n");
            return;
        }
        if (mode == WatchMode.Hang)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            return;
        }
        var timeoutSeconds = query.TryGetValue("timeoutSeconds", out var t) ? int.Parse(t, CultureInfo.InvariantCulture) : 1800;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            foreach (var line in backlog)
            {
                await context.Response.WriteAsync(line + "\n", timeout.Token);
            }
            await context.Response.Body.FlushAsync(timeout.Token);
            await foreach (var message in subscriber!.Messages.Reader.ReadAllAsync(timeout.Token))
            {
                switch (message.Action)
                {
                    case WatchAction.Write:
                        await context.Response.WriteAsync(message.Line + "\n", timeout.Token);
                        if (subscriber.Messages.Reader.Count == 0)
                        {
                            await context.Response.Body.FlushAsync(timeout.Token);
                        }
                        break;
                    case WatchAction.Abort:
                        context.Abort();
                        return;
                    case WatchAction.Close:
                        await context.Response.Body.FlushAsync(timeout.Token);
                        return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // the server-side timeout ran out or the client went away: end the stream
        }
        finally
        {
            lock (_gate)
            {
                _resources[resource].Subscribers.Remove(subscriber!);
            }
        }
    }

    private static string ErrorLine(int code, string reason) =>
        new JsonObject
        {
            ["type"] = "ERROR",
            ["object"] = new JsonObject
            {
                ["kind"] = "Status",
                ["apiVersion"] = "v1",
                ["metadata"] = new JsonObject(),
                ["status"] = "Failure",
                ["message"] = "too old resource version",
                ["reason"] = reason,
                ["code"] = code,
            },
        }.ToJsonString();

    private static async Task WriteStatusAsync(HttpContext context, int code, string reason, string message)
    {
        context.Response.StatusCode = code;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
            ["code"] = code,
        }.ToJsonString());
    }

    private static string Key(string? ns, string name) => ns is null ? name : $"{ns}/{name}";

    /// <summary>
    /// The name a <c>fieldSelector=metadata.name=X</c> asks for (as the API server honours it on every resource), or
    /// null. Other field selectors are refused rather than ignored, so a test cannot rely on one the stand-in skips.
    /// </summary>
    private static string? NameSelected(Dictionary<string, string> query)
    {
        if (!query.TryGetValue("fieldSelector", out var selector) || selector.Length == 0)
        {
            return null;
        }
        const string prefix = "metadata.name=";
        return selector.StartsWith(prefix, StringComparison.Ordinal) && !selector.Contains(',', StringComparison.Ordinal)
            ? selector[prefix.Length..]
            : throw new NotSupportedException($"the stand-in understands only fieldSelector=metadata.name=<name>, not {selector}");
    }

    private sealed record StoredObject(string? Namespace, string Name, string Json, JsonObject Node);

    private sealed record HistoryEntry(long ResourceVersion, string? Namespace, string Name, string Line);

    private enum WatchAction
    {
        Write,
        Abort,
        Close,
    }

    private sealed record WatchMessage(string? Line, WatchAction Action);

    private sealed class Subscriber(string? ns, string? name)
    {
        public string? Namespace { get; } = ns;

        /// <summary>From a <c>metadata.name=</c> field selector: only this object's events.</summary>
        public string? Name { get; } = name;

        public Channel<WatchMessage> Messages { get; } = Channel.CreateUnbounded<WatchMessage>();
    }

    private sealed class ResourceState
    {
        public Dictionary<string, StoredObject> Objects { get; } = new(StringComparer.Ordinal);

        public List<HistoryEntry> History { get; } = [];

        public List<Subscriber> Subscribers { get; } = [];

        public Queue<WatchMode> NextWatchModes { get; } = new();

        public long CompactedBelow { get; set; }

        public Task ListGate { get; set; } = Task.CompletedTask;

        public Task WriteGate { get; set; } = Task.CompletedTask;

        public int ListFailures { get; set; }
    }
}
