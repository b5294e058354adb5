using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using XdsControlPlane.Compiler.Snapshots;

namespace XdsControlPlane.Xds.Engine;

/// <summary>
/// What every xDS stream shares: one reader loop that applies requests under a lock, and ONE writer loop
/// (grpc-dotnet allows one write in flight) that computes the newest state to send whenever it is woken.
/// Wake-ups coalesce (a one-slot signal), so a slow client never queues snapshots.
/// </summary>
internal abstract class XdsStream
{
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly List<string> _unknownTypes = [];

    protected XdsStream(XdsEngine engine, long id, string kind, string? fixedType)
    {
        Engine = engine;
        Id = id;
        Kind = kind;
        FixedType = fixedType;
        ConnectedSince = engine.Time.GetUtcNow();
    }

    protected XdsEngine Engine { get; }

    protected Lock Gate { get; } = new();

    public long Id { get; }

    /// <summary>"ADS", "LDS", ... and "-delta" for incremental streams.</summary>
    public string Kind { get; }

    /// <summary>The only type a per-type service serves; null over ADS.</summary>
    public string? FixedType { get; }

    public bool IsAds => FixedType is null;

    public abstract bool IsDelta { get; }

    public NodeKey Node { get; private set; }

    public Node? NodeInfo { get; private set; }

    public DateTimeOffset ConnectedSince { get; }

    public DateTimeOffset? DisconnectedAt { get; private set; }

    private CurrentSnapshot? _lastWritten;

    public void Wake() => _signal.Writer.TryWrite(true);

    /// <summary>Another stream of the same node sent clusters whose endpoints must be answered again.</summary>
    public virtual void OnClustersChanged(IReadOnlyCollection<string> edsNames)
    {
    }

    protected async Task RunAsync<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requests,
        IServerStreamWriter<TResponse> responses,
        ServerCallContext context,
        Func<TRequest, Node?> nodeOf,
        Func<TRequest, bool> apply,
        Func<CurrentSnapshot, List<(string TypeUrl, TResponse Response)>> compute)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var ct = cts.Token;
        Task writer = Task.CompletedTask;
        var registered = false;
        try
        {
            while (await requests.MoveNext(ct))
            {
                var request = requests.Current;
                bool wake;
                if (!registered)
                {
                    var node = nodeOf(request);
                    if (node is null || string.IsNullOrEmpty(node.Id))
                    {
                        throw Invalid(StatusCode.InvalidArgument, "the first request of a stream must carry node with a non-empty id");
                    }
                    NodeInfo = node;
                    Node = new NodeKey(node.Id, node.Cluster ?? "");
                }
                lock (Gate)
                {
                    wake = apply(request);
                }
                if (!registered)
                {
                    registered = true;
                    Engine.Register(this);
                    writer = WriterLoopAsync(responses, compute, ct);
                    // A failed write (client gone) ends the reader too.
                    _ = writer.ContinueWith(static (_, state) =>
                    {
                        try
                        {
                            ((CancellationTokenSource)state!).Cancel();
                        }
                        catch (ObjectDisposedException)
                        {
                            // The stream already ended.
                        }
                    }, cts, CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
                }
                if (wake)
                {
                    Wake();
                }
            }
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            // The client went away, or the writer failed (it cancels the reader).
            XdsLog.ClientGone(Engine.Logger, Kind, Id, Node.Id ?? "", e.Message);
        }
        catch (IOException e)
        {
            // The request stream was aborted by the client.
            XdsLog.ClientGone(Engine.Logger, Kind, Id, Node.Id ?? "", e.Message);
        }
        finally
        {
            await cts.CancelAsync();
            try
            {
                await writer;
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
            {
                // Writing to a client that is gone.
            }
            if (registered)
            {
                DisconnectedAt = Engine.Time.GetUtcNow();
                Engine.Unregister(this);
            }
        }
    }

    private async Task WriterLoopAsync<TResponse>(
        IServerStreamWriter<TResponse> responses,
        Func<CurrentSnapshot, List<(string TypeUrl, TResponse Response)>> compute,
        CancellationToken ct)
    {
        using var watch = Engine.Cache.Watch(Wake);
        var signal = _signal.Reader;
        while (await signal.WaitToReadAsync(ct))
        {
            signal.TryRead(out _);
            var current = Engine.Cache.GetSnapshot(Node);
            if (!current.IsApplied)
            {
                // Nothing applied yet (a replica still reading its source). Answering now would send Envoy an
                // empty state, and an empty LDS/CDS response deletes every listener and cluster it has. Requests
                // stay pending and are answered when the first snapshot is accepted (it wakes this loop).
                continue;
            }
            List<(string TypeUrl, TResponse Response)> batch;
            try
            {
                lock (Gate)
                {
                    batch = compute(current);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Never end the stream as if all were well (status OK): say so, and let Envoy reconnect.
                XdsLog.ResponseFailed(Engine.Logger, ex, Kind, Node.Id);
                throw new RpcException(new Status(StatusCode.Internal, $"could not build the response: {ex.GetType().Name}"));
            }
            foreach (var (typeUrl, response) in batch)
            {
                await responses.WriteAsync(response, ct);
                Engine.Metrics.Pushed(typeUrl);
            }
            if (batch.Count > 0)
            {
                if (_lastWritten is { } last && last.Generation < current.Generation)
                {
                    Engine.Metrics.PushLatency(Engine.Time.GetUtcNow() - current.AcceptedAt);
                }
                _lastWritten = current;
            }
            else
            {
                _lastWritten ??= current;
            }
        }
    }

    protected RpcException Invalid(StatusCode code, string reason)
    {
        Engine.Metrics.InvalidRequest();
        XdsLog.InvalidRequest(Engine.Logger, Kind, reason);
        return new RpcException(new Status(code, reason));
    }

    /// <summary>Resolves and checks the type of a request (caller holds the lock). Null means "ignore it".</summary>
    protected string? ResolveType(string requestType)
    {
        if (FixedType is not null)
        {
            if (requestType.Length == 0 || requestType == FixedType)
            {
                return FixedType;
            }
            throw Invalid(StatusCode.InvalidArgument, $"this {Kind} stream serves only {FixedType}, not '{Truncate(requestType, 200)}'");
        }
        if (requestType.Length == 0)
        {
            throw Invalid(StatusCode.InvalidArgument, "type_url is required on an aggregated stream");
        }
        if (!TypeUrls.IsKnown(requestType))
        {
            // Over ADS an unknown type must not end the stream the Envoy's whole config rides on:
            // it is ignored (no response, as for a type with no resources) and recorded for the debug view.
            Engine.Metrics.UnknownType();
            if (!_unknownTypes.Contains(requestType) && _unknownTypes.Count < Engine.Options.MaxRecordedUnknownTypes)
            {
                _unknownTypes.Add(Truncate(requestType, 200));
                XdsLog.UnknownTypeUrl(Engine.Logger, Node.Id, Truncate(requestType, 200));
            }
            return null;
        }
        return requestType;
    }

    protected void CheckCount(int count, string what)
    {
        if (count > Engine.Options.MaxResourceNamesPerRequest)
        {
            throw Invalid(StatusCode.ResourceExhausted, $"{count} {what} in one request; the limit is {Engine.Options.MaxResourceNamesPerRequest}");
        }
    }

    protected void CheckSubscribed(int count)
    {
        if (count > Engine.Options.MaxSubscribedNamesPerType)
        {
            throw Invalid(StatusCode.ResourceExhausted, $"{count} subscribed names for one type; the limit is {Engine.Options.MaxSubscribedNamesPerType}");
        }
    }

    protected string ErrorMessage(Google.Rpc.Status detail) =>
        Truncate($"{(StatusCode)detail.Code}: {detail.Message}", Engine.Options.MaxRecordedErrorLength);

    protected static string Truncate(string s, int max) => s.Length <= max ? s : s[..max] + "…";

    public XdsStreamStatus GetStatus()
    {
        lock (Gate)
        {
            var node = NodeInfo;
            var userAgent = node is null ? "" : $"{node.UserAgentName} {node.UserAgentVersion}".Trim();
            var build = node?.UserAgentBuildVersion?.Version is { } v ? $"{v.MajorNumber}.{v.MinorNumber}.{v.Patch}" : "";
            return new XdsStreamStatus(Id, Node.Id, Node.Cluster, Kind, ConnectedSince, DisconnectedAt, userAgent, build,
                node is null ? [] : [.. node.ClientFeatures], TypeStatuses(), [.. _unknownTypes]);
        }
    }

    /// <summary>Caller holds the lock.</summary>
    protected abstract IReadOnlyList<XdsTypeStatus> TypeStatuses();
}
