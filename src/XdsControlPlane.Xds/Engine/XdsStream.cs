using System.Threading.Channels;
using Envoy.Config.Core.V3;
using Google.Protobuf;
using Grpc.Core;
using XdsControlPlane.Snapshots;

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

    /// <summary>The node's fields the server uses; the node itself (metadata and all) is not kept.</summary>
    public NodeSummary? NodeInfo { get; private set; }

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
        where TResponse : IMessage
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        var ct = cts.Token;
        Task writer = Task.CompletedTask;
        var registered = false;
        try
        {
            while (await NextRequestAsync(requests, ct))
            {
                var request = requests.Current;
                bool wake;
                if (!registered)
                {
                    Admit(nodeOf(request));
                }
                lock (Gate)
                {
                    wake = apply(request);
                }
                if (!registered)
                {
                    registered = true;
                    Engine.Register(this);
                    writer = WriterLoopAsync(responses, compute, context, ct);
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
            finally
            {
                // Also when the writer ended the stream with a status (INTERNAL, a write deadline): never left registered.
                if (registered)
                {
                    DisconnectedAt = Engine.Time.GetUtcNow();
                    Engine.Unregister(this);
                }
            }
        }
    }

    private async Task WriterLoopAsync<TResponse>(
        IServerStreamWriter<TResponse> responses,
        Func<CurrentSnapshot, List<(string TypeUrl, TResponse Response)>> compute,
        ServerCallContext context,
        CancellationToken ct)
        where TResponse : IMessage
    {
        using var watch = Engine.Cache.Watch(Wake);
        var signal = _signal.Reader;
        while (await signal.WaitToReadAsync(ct))
        {
            signal.TryRead(out _);
            var current = Engine.Cache.Current;
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
                await WriteWithDeadlineAsync(responses, response, context, ct);
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

    /// <summary>
    /// Reads the next request. A request over <see cref="XdsServerOptions.MaxRequestBytes"/> is refused by gRPC
    /// itself (RESOURCE_EXHAUSTED) before it is parsed; it is counted and logged here, and the status goes back.
    /// </summary>
    private async Task<bool> NextRequestAsync<TRequest>(IAsyncStreamReader<TRequest> requests, CancellationToken ct)
    {
        try
        {
            return await requests.MoveNext(ct);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
        {
            throw Invalid(StatusCode.ResourceExhausted, XdsRefusal.RequestBytes,
                $"a request over {Engine.Options.MaxRequestBytes} bytes (the limit of one request)");
        }
    }

    /// <summary>
    /// Checks the node of the first request (its size, then its id and cluster against the one node served) and
    /// keeps only the fields the server uses: the metadata, locality and extensions are dropped with the request.
    /// </summary>
    private void Admit(Node? node)
    {
        if (node is null || string.IsNullOrEmpty(node.Id))
        {
            throw Invalid(StatusCode.InvalidArgument, "the first request of a stream must carry node with a non-empty id");
        }
        var size = node.CalculateSize();
        if (size > Engine.Options.MaxNodeBytes)
        {
            throw Invalid(StatusCode.ResourceExhausted, XdsRefusal.NodeBytes,
                $"node '{Truncate(node.Id, 100)}' is {size} bytes; the limit is {Engine.Options.MaxNodeBytes} (metadata is the usual culprit)");
        }
        var options = Engine.Options;
        if ((options.NodeId is { } id && node.Id != id) || (options.NodeCluster is { } cluster && node.Cluster != cluster))
        {
            // Logged once per stream: the stream ends here. Never served, not even an empty answer.
            Engine.Metrics.Refused(XdsRefusal.Node);
            XdsLog.NodeRefused(Engine.Logger, Kind, Truncate(node.Id, 200), Truncate(node.Cluster, 200), options.NodeId ?? "*", options.NodeCluster ?? "*");
            throw new RpcException(new Status(StatusCode.PermissionDenied,
                $"node '{Truncate(node.Id, 200)}' (cluster '{Truncate(node.Cluster, 200)}') is not served here"));
        }
        var build = node.UserAgentBuildVersion?.Version is { } v ? $"{v.MajorNumber}.{v.MinorNumber}.{v.Patch}" : "";
        NodeInfo = new NodeSummary(node.Id, node.Cluster ?? "", $"{node.UserAgentName} {node.UserAgentVersion}".Trim(), build, [.. node.ClientFeatures]);
        Node = new NodeKey(node.Id, node.Cluster ?? "");
    }

    /// <summary>
    /// Writes one response: first waits for its bytes in the server-wide <see cref="WriteBudget"/> (so only so many
    /// serialised responses sit in output buffers at once), then waits at most <see cref="XdsServerOptions.WriteTimeout"/>
    /// for the client to take it. A client that stops reading (HTTP/2 flow control) would otherwise hold the serialised
    /// response in the stream's output buffer for as long as it likes. Its stream is reset with ENHANCE_YOUR_CALM (the
    /// gRPC status trailer could not reach it: it sits behind the unread data), which drops the buffered response;
    /// gRPC clients read that code as RESOURCE_EXHAUSTED.
    /// </summary>
    /// <remarks>
    /// This method never returns while the write is in flight. The write is started without the stream's token:
    /// grpc-dotnet would cancel the request from that token's callback, which can run after the call has ended
    /// (<c>ObjectDisposedException: Request has finished and HttpContext disposed</c> in Kestrel's log), and a write
    /// abandoned on cancellation lets the handler end while the write still holds the HttpContext. Instead, when the
    /// stream ends (or the deadline passes) mid-write, the HTTP/2 stream is reset, which ends the write, and the
    /// write's end is awaited before anything else happens.
    /// </remarks>
    private async Task WriteWithDeadlineAsync<TResponse>(IServerStreamWriter<TResponse> responses, TResponse response, ServerCallContext context, CancellationToken ct)
        where TResponse : IMessage
    {
        long bytes = response.CalculateSize();
        using var lease = await AcquireBudgetAsync(bytes, ct);
        Engine.Metrics.WriteStarted(bytes);
        try
        {
            var write = responses.WriteAsync(response);
            if (!write.IsCompleted)
            {
                try
                {
                    await write.WaitAsync(Engine.Options.WriteTimeout, Engine.Time, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested && !write.IsCompleted)
                {
                    // The stream ends (client gone, or the reader ended or failed) while its write waits for the client.
                    await ResetAndEndAsync(context, Cancel, write);
                    throw;
                }
                catch (TimeoutException)
                {
                    Engine.Metrics.Refused(XdsRefusal.WriteTimeout);
                    Engine.Metrics.InvalidRequest();
                    XdsLog.WriteTimedOut(Engine.Logger, Kind, Id, Node.Id, Engine.Options.WriteTimeout.TotalSeconds);
                    await ResetAndEndAsync(context, EnhanceYourCalm, write);
                    throw new RpcException(new Status(StatusCode.ResourceExhausted,
                        $"the client did not read a response within {Engine.Options.WriteTimeout.TotalSeconds} s"));
                }
            }
            await write;
        }
        finally
        {
            Engine.Metrics.WriteEnded(bytes);
        }
    }

    private async ValueTask<WriteBudget.Lease> AcquireBudgetAsync(long bytes, CancellationToken ct)
    {
        var pending = Engine.WriteBudget.AcquireAsync(bytes, ct);
        if (pending.IsCompletedSuccessfully)
        {
            return pending.Result;
        }
        var started = Engine.Time.GetTimestamp();
        Engine.Metrics.WriteBudgetWaitStarted();
        var granted = false;
        try
        {
            var lease = await pending;
            granted = true;
            return lease;
        }
        finally
        {
            Engine.Metrics.WriteBudgetWaited(Engine.Time.GetElapsedTime(started), granted);
        }
    }

    /// <summary>
    /// Resets the stream and waits for the write that the reset ends; how it ends is no news (the stream is going).
    /// Without ASP.NET Core (an in-process host) there is nothing to reset: the write is left to end with the call.
    /// </summary>
    private static async Task ResetAndEndAsync(ServerCallContext context, int code, Task write)
    {
        if (!Reset(context, code))
        {
            Observe(write);
            return;
        }
        try
        {
            await write;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or RpcException)
        {
            // The reset makes the pending write fail.
        }
    }

    private static void Observe(Task write) =>
        _ = write.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    private const int Cancel = 0x8;

    private const int EnhanceYourCalm = 0xB;

    /// <summary>Resets the HTTP/2 stream with <paramref name="code"/>, or aborts the request where that is not available.</summary>
    private static bool Reset(ServerCallContext context, int code)
    {
        if (!TryGetHttpContext(context, out var http))
        {
            // Not served by ASP.NET Core (an in-process host): ending the call is all there is.
            return false;
        }
        if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResetFeature>() is { } reset)
        {
            reset.Reset(code);
        }
        else
        {
            http.Abort();
        }
        return true;
    }

    private static bool TryGetHttpContext(ServerCallContext context, out Microsoft.AspNetCore.Http.HttpContext http)
    {
        try
        {
            http = context.GetHttpContext();
            return true;
        }
        catch (InvalidOperationException)
        {
            http = null!;
            return false;
        }
    }

    protected RpcException Invalid(StatusCode code, XdsRefusal refusal, string reason)
    {
        Engine.Metrics.Refused(refusal);
        return Invalid(code, reason);
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
            throw Invalid(StatusCode.ResourceExhausted, XdsRefusal.ResourceNames,
                $"{count} {what} in one request; the limit is {Engine.Options.MaxResourceNamesPerRequest}");
        }
    }

    protected void CheckSubscribed(int count)
    {
        if (count > Engine.Options.MaxSubscribedNamesPerType)
        {
            throw Invalid(StatusCode.ResourceExhausted, XdsRefusal.SubscriptionNames,
                $"{count} subscribed names for one type; the limit is {Engine.Options.MaxSubscribedNamesPerType}");
        }
    }

    protected void CheckSubscribedBytes(long bytes)
    {
        if (bytes > Engine.Options.MaxSubscribedNameBytesPerType)
        {
            throw Invalid(StatusCode.ResourceExhausted, XdsRefusal.SubscriptionBytes,
                $"{bytes} bytes of subscribed names for one type; the limit is {Engine.Options.MaxSubscribedNameBytesPerType}");
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
            return new XdsStreamStatus(Id, Node.Id, Node.Cluster, Kind, ConnectedSince, DisconnectedAt, node?.UserAgent ?? "",
                node?.BuildVersion ?? "", node?.ClientFeatures ?? [], TypeStatuses(), [.. _unknownTypes]);
        }
    }

    /// <summary>Caller holds the lock.</summary>
    protected abstract IReadOnlyList<XdsTypeStatus> TypeStatuses();
}
