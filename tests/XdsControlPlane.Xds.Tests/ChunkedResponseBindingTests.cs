using System.Buffers;
using Envoy.Service.Cluster.V3;
using Envoy.Service.Discovery.V3;
using Envoy.Service.Endpoint.V3;
using Envoy.Service.Extension.V3;
using Envoy.Service.Listener.V3;
using Envoy.Service.Route.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Xds.Services;
using XdsControlPlane.Xds.Tests.Infrastructure;
using static XdsControlPlane.Xds.Tests.Infrastructure.TestSnapshots;

namespace XdsControlPlane.Xds.Tests;

/// <summary>
/// The discovery services are bound with a response marshaller that writes in 64 KiB chunks (fewer segments
/// cached by each stream's HTTP/2 output pipe): same methods, same bytes on the wire.
/// </summary>
public sealed class ChunkedResponseBindingTests
{
    public static TheoryData<string> Services => ["ADS", "LDS", "CDS", "EDS", "RDS", "SRDS", "ECDS"];

    [Theory]
    [MemberData(nameof(Services))]
    public void Binding_HasTheGeneratedMethods_WithTheChunkedMarshallerOnStreams(string service)
    {
        var generated = new CapturingBinder();
        System.Type serviceType;
        switch (service)
        {
            case "ADS":
                AggregatedDiscoveryService.BindService(generated, null);
                serviceType = typeof(AdsService);
                break;
            case "LDS":
                ListenerDiscoveryService.BindService(generated, null);
                serviceType = typeof(LdsService);
                break;
            case "CDS":
                ClusterDiscoveryService.BindService(generated, null);
                serviceType = typeof(CdsService);
                break;
            case "EDS":
                EndpointDiscoveryService.BindService(generated, null);
                serviceType = typeof(EdsService);
                break;
            case "RDS":
                RouteDiscoveryService.BindService(generated, null);
                serviceType = typeof(RdsService);
                break;
            case "SRDS":
                ScopedRoutesDiscoveryService.BindService(generated, null);
                serviceType = typeof(SrdsService);
                break;
            default:
                ExtensionConfigDiscoveryService.BindService(generated, null);
                serviceType = typeof(EcdsService);
                break;
        }
        // grpc-dotnet takes the most derived BindServiceMethod attribute (the service class's own) and calls the static
        // method it names, found as here: the binding checked is the one the server will use.
        var attribute = System.Reflection.CustomAttributeExtensions.GetCustomAttribute<BindServiceMethodAttribute>(serviceType);
        Assert.NotNull(attribute);
        Assert.Equal(typeof(ChunkedResponseBinding), attribute.BindType);
        var bind = attribute.BindType.GetMethod(attribute.BindMethodName,
            System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static,
            [typeof(ServiceBinderBase), serviceType]);
        Assert.NotNull(bind);
        var chunked = new CapturingBinder();
        bind.Invoke(null, [chunked, null]);
        Assert.Equal(generated.Methods.Select(m => (m.FullName, m.Type)), chunked.Methods.Select(m => (m.FullName, m.Type)));
        Assert.Contains(chunked.Methods, m => m.Type == MethodType.DuplexStreaming);
        for (var i = 0; i < generated.Methods.Count; i++)
        {
            var streamed = chunked.Methods[i].Type is MethodType.DuplexStreaming or MethodType.ServerStreaming;
            Assert.Equal(streamed, !ReferenceEquals(generated.ResponseMarshallers[i], chunked.ResponseMarshallers[i]));
            Assert.Same(generated.RequestMarshallers[i], chunked.RequestMarshallers[i]);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(300)]
    [InlineData(200_000)]
    [InlineData(1_500_000)]
    public void ChunkedMarshaller_WritesExactlyTheProtobufEncoding_InChunksOfAtMost64KiB(int payload)
    {
        var response = new DiscoveryResponse { TypeUrl = TypeUrls.Listener, VersionInfo = "v1", Nonce = "1" };
        for (var written = 0; written < payload; written += 50_000)
        {
            response.Resources.Add(new Any
            {
                TypeUrl = "type.googleapis.com/envoy.config.listener.v3.Listener",
                Value = ByteString.CopyFrom(Enumerable.Range(0, Math.Min(50_000, payload - written)).Select(i => (byte)i).ToArray()),
            });
        }
        var binder = new CapturingBinder();
        ChunkedResponseBinding.BindAds(binder, null!);
        var marshaller = (Marshaller<DiscoveryResponse>)binder.ResponseMarshallers[0];
        var context = new RecordingContext();

        marshaller.ContextualSerializer(response, context);

        Assert.True(context.Completed);
        Assert.Equal(response.CalculateSize(), context.PayloadLength);
        Assert.Equal(response.ToByteArray(), context.Writer.WrittenSpan.ToArray());
        var size = response.CalculateSize();
        Assert.All(context.Hints, h => Assert.InRange(h, 0, ChunkedResponseBinding.ChunkSize));
        if (size >= 2 * ChunkedResponseBinding.ChunkSize)
        {
            // Room is asked for in whole chunks, so a large message takes few large buffers.
            Assert.Equal(ChunkedResponseBinding.ChunkSize, context.Hints[0]);
            Assert.InRange(context.Hints.Count, size / ChunkedResponseBinding.ChunkSize, size / ChunkedResponseBinding.ChunkSize + 2);
        }
        else
        {
            // A small message never asks for more than it needs.
            Assert.All(context.Hints, h => Assert.True(h <= size));
        }
    }

    [Fact]
    public async Task LargeResponses_ArriveIntact_OverSotwAndDelta()
    {
        // 1,500 clusters with long names: CDS and EDS responses of well over 64 KiB each, several chunks per message.
        var snapshot = Snap([.. Enumerable.Range(0, 1_500).SelectMany(i => Cluster($"cluster-{i:D4}-{new string('x', 150)}"))]);
        Assert.True(snapshot.Get(TypeUrls.Cluster).Resources.Values.Sum(r => r.Bytes.Length) > 3 * ChunkedResponseBinding.ChunkSize);
        await using var server = await XdsTestServer.StartAsync(snapshot);
        await using var sotw = SotwClient.Ads(server.Channel, "envoy-sotw");
        var clusters = await sotw.SubscribeAsync(TypeUrls.Cluster);
        Assert.Equal(1_500, clusters.Resources.Count);
        var expected = snapshot.Get(TypeUrls.Cluster).Resources;
        foreach (var any in clusters.Resources)
        {
            var cluster = any.Unpack<Envoy.Config.Cluster.V3.Cluster>();
            Assert.Equal(expected[cluster.Name].Bytes.ToByteArray(), any.Value.ToByteArray());
        }
        await using var delta = DeltaClient.Ads(server.Channel, "envoy-delta");
        await delta.RequestAsync(TypeUrls.Endpoint, ["*"]);
        Assert.Equal(1_500, (await delta.NextAsync()).Resources.Count);
    }

    private sealed class CapturingBinder : ServiceBinderBase
    {
        public List<IMethod> Methods { get; } = [];

        public List<object> RequestMarshallers { get; } = [];

        public List<object> ResponseMarshallers { get; } = [];

        private void Add<TRequest, TResponse>(Method<TRequest, TResponse> method)
            where TRequest : class
            where TResponse : class
        {
            Methods.Add(method);
            RequestMarshallers.Add(method.RequestMarshaller);
            ResponseMarshallers.Add(method.ResponseMarshaller);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler) => Add(method);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) => Add(method);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) => Add(method);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) => Add(method);
    }

    /// <summary>A serialization context over an in-memory writer that records every size hint.</summary>
    private sealed class RecordingContext : SerializationContext
    {
        public ArrayBufferWriter<byte> Writer { get; } = new();

        public List<int> Hints { get; } = [];

        public int PayloadLength { get; private set; } = -1;

        public bool Completed { get; private set; }

        public override void SetPayloadLength(int payloadLength) => PayloadLength = payloadLength;

        public override IBufferWriter<byte> GetBufferWriter() => new Recorder(this);

        public override void Complete() => Completed = true;

        public override void Complete(byte[] payload) => throw new InvalidOperationException("the chunked marshaller writes through the buffer writer");

        private sealed class Recorder(RecordingContext owner) : IBufferWriter<byte>
        {
            public void Advance(int count) => owner.Writer.Advance(count);

            // Like Kestrel's pipe: exactly the hint, or one 4 KiB block without one.
            public Memory<byte> GetMemory(int sizeHint = 0)
            {
                owner.Hints.Add(sizeHint);
                var length = Math.Max(sizeHint, 4096);
                return owner.Writer.GetMemory(length)[..length];
            }

            public Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
        }
    }
}
