using System.Collections.Concurrent;
using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace XdsControlPlane.Snapshots;

/// <summary>
/// Serialisation of the messages the compiler still builds (the shared listeners, what every tenant of a seed
/// shares, the trie matcher): the same bytes as <c>ToByteString</c> and <c>Any.Pack</c>, without their per-call
/// <c>CodedOutputStream</c> and type-URL string. Per-tenant resources are written by the compiler's ProtoWriter.
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

    /// <summary>What <c>Any.Pack(message)</c> gives.</summary>
    public static Any Pack(IMessage message) => new() { TypeUrl = TypeUrlOf(message), Value = Serialize(message) };

    /// <summary><see cref="ContentHash.Of(ReadOnlySpan{byte})"/> of the message's encoding, in a pooled buffer (for parts whose bytes are not kept).</summary>
    public static string Hash(IMessage message)
    {
        if (message is not IBufferMessage)
        {
            return ContentHash.Of(message.ToByteArray());
        }
        var size = message.CalculateSize();
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var span = buffer.AsSpan(0, size);
            message.WriteTo(span);
            return ContentHash.Of(span);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
