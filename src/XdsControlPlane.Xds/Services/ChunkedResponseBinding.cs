using System.Buffers;
using Envoy.Service.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Envoy.Service.Endpoint.V3;
using Envoy.Service.Extension.V3;
using Envoy.Service.Listener.V3;
using Envoy.Service.Route.V3;
using Google.Protobuf;
using Grpc.Core;

namespace XdsControlPlane.Xds.Services;

/// <summary>
/// Binds the discovery services as the generated code does (same service and method names, same request
/// parsing), except that streamed discovery responses are serialised in 64 KiB chunks instead of 4 KiB ones.
/// </summary>
/// <remarks>
/// Why: protobuf writes a message into the response pipe with <c>GetSpan()</c> and no size hint, so Kestrel's
/// per-stream HTTP/2 output pipe takes one 4 KiB pool block per 4 KiB of the message: ~950 segments for the
/// 3.8 MB initial push at 1,000 tenants. A <see cref="System.IO.Pipelines.Pipe"/> keeps up to 256 of the
/// segment objects it has used in a private cache for as long as the pipe lives, i.e. as long as the
/// stream: 27 KB per idle stream, half of what an idle stream costs the server (heap comparison at 210 and
/// 1,010 streams, <c>XdsIdleStreamMemoryBenchmarks</c>). Asking for 64 KiB at a time makes the pipe take
/// buffers of that size (from the shared <see cref="ArrayPool{T}"/>, below the large-object threshold) and
/// use ~60 segments for the same push. The bytes on the wire are identical.
/// </remarks>
internal static class ChunkedResponseBinding
{
    /// <summary>The span asked of the response writer each time protobuf needs more room.</summary>
    internal const int ChunkSize = 64 * 1024;

    public static void BindAds(ServiceBinderBase binder, AggregatedDiscoveryService.AggregatedDiscoveryServiceBase service) =>
        AggregatedDiscoveryService.BindService(new Binder(binder), service);

    public static void BindLds(ServiceBinderBase binder, ListenerDiscoveryService.ListenerDiscoveryServiceBase service) =>
        ListenerDiscoveryService.BindService(new Binder(binder), service);

    public static void BindCds(ServiceBinderBase binder, ClusterDiscoveryService.ClusterDiscoveryServiceBase service) =>
        ClusterDiscoveryService.BindService(new Binder(binder), service);

    public static void BindEds(ServiceBinderBase binder, EndpointDiscoveryService.EndpointDiscoveryServiceBase service) =>
        EndpointDiscoveryService.BindService(new Binder(binder), service);

    public static void BindRds(ServiceBinderBase binder, RouteDiscoveryService.RouteDiscoveryServiceBase service) =>
        RouteDiscoveryService.BindService(new Binder(binder), service);

    public static void BindSrds(ServiceBinderBase binder, ScopedRoutesDiscoveryService.ScopedRoutesDiscoveryServiceBase service) =>
        ScopedRoutesDiscoveryService.BindService(new Binder(binder), service);

    public static void BindEcds(ServiceBinderBase binder, ExtensionConfigDiscoveryService.ExtensionConfigDiscoveryServiceBase service) =>
        ExtensionConfigDiscoveryService.BindService(new Binder(binder), service);

    /// <summary>Passes every method through; streaming ones get the chunked response marshaller.</summary>
    private sealed class Binder(ServiceBinderBase inner) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Chunked(method), handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(Chunked(method), handler);

        private static Method<TRequest, TResponse> Chunked<TRequest, TResponse>(Method<TRequest, TResponse> method)
            where TRequest : class
            where TResponse : class =>
            typeof(IBufferMessage).IsAssignableFrom(typeof(TResponse))
                ? new Method<TRequest, TResponse>(method.Type, method.ServiceName, method.Name, method.RequestMarshaller,
                    new Marshaller<TResponse>(Serialize, method.ResponseMarshaller.ContextualDeserializer))
                : method;

        private static void Serialize<TResponse>(TResponse response, SerializationContext context)
        {
            var message = (IMessage)response!;
            var size = message.CalculateSize();
            context.SetPayloadLength(size);
            message.WriteTo(new ChunkingWriter(context.GetBufferWriter(), size));
            context.Complete();
        }
    }

    /// <summary>
    /// Asks the inner writer for room for the rest of the message, at most <see cref="ChunkSize"/> bytes, whenever
    /// more is needed: a small message still takes one small pool block, as before.
    /// </summary>
    private sealed class ChunkingWriter(IBufferWriter<byte> inner, int length) : IBufferWriter<byte>
    {
        private int _remaining = length;

        public void Advance(int count)
        {
            _remaining -= count;
            inner.Advance(count);
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(Hint(sizeHint));

        public Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(Hint(sizeHint));

        private int Hint(int sizeHint) => Math.Max(sizeHint, Math.Clamp(_remaining, 0, ChunkSize));
    }
}
