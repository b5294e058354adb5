using System.Collections.Concurrent;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace XdsControlPlane.Snapshots;

/// <summary>
/// Type URLs built once per message type, and the serialisation of resources given as messages (tests, test
/// snapshots, benchmark wrappers): the same bytes as <c>ToByteString</c> without its per-call <c>CodedOutputStream</c>.
/// The compiler builds no messages: it writes every resource with its ProtoWriter.
/// </summary>
public static class ProtoBytes
{
    private static readonly ConcurrentDictionary<MessageDescriptor, string> TypeUrlsByDescriptor = new();

    /// <summary><c>type.googleapis.com/</c> and the message's full name, built once per message type.</summary>
    public static string TypeUrlOf(IMessage message) => TypeUrlOf(message.Descriptor);

    public static string TypeUrlOf(MessageDescriptor descriptor) =>
        TypeUrlsByDescriptor.GetOrAdd(descriptor, d => TypeUrls.Prefix + d.FullName);

    /// <summary>The message's deterministic encoding (what <c>ToByteString</c> gives).</summary>
    public static ByteString Serialize(IMessage message)
    {
        if (message is not IBufferMessage)
        {
            // Hand-written IMessage implementations (test and benchmark wrappers) have only the stream API.
            return message.ToByteString();
        }
        var bytes = new byte[message.CalculateSize()];
        message.WriteTo(bytes.AsSpan());
        // The array is never written again: wrapping it instead of copying is safe.
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }
}
