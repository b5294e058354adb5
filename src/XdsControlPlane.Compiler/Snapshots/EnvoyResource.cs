using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>
/// One named Envoy resource. Its version is a content hash, so identical content has the identical
/// version on every replica and after every restart; its bytes are produced once and shared by every stream.
/// </summary>
/// <remarks>The message must never be mutated after construction: snapshots share it.</remarks>
public sealed class EnvoyResource
{
    private readonly Lazy<ByteString> _bytes;
    private Any? _any;

    /// <summary>Serialises now and versions by the bytes.</summary>
    public EnvoyResource(string name, IMessage message)
    {
        Name = name;
        Message = message;
        TypeUrl = TypeUrls.Prefix + message.Descriptor.FullName;
        var bytes = message.ToByteString();
        _bytes = new Lazy<ByteString>(bytes);
        Version = ContentHash.Of(bytes.Span);
    }

    /// <summary>
    /// For large resources assembled from parts whose hashes are already known (the shared SNI listener
    /// holds every tenant's chain): the caller supplies a version that is a hash of those parts, and the
    /// bytes are produced on first use.
    /// </summary>
    public EnvoyResource(string name, IMessage message, string version)
    {
        Name = name;
        Message = message;
        TypeUrl = TypeUrls.Prefix + message.Descriptor.FullName;
        _bytes = new Lazy<ByteString>(message.ToByteString, LazyThreadSafetyMode.ExecutionAndPublication);
        Version = version;
    }

    public string Name { get; }

    public string TypeUrl { get; }

    public IMessage Message { get; }

    /// <summary>Deterministic protobuf encoding (fields in number order; map entries inserted in sorted order).</summary>
    public ByteString Bytes => _bytes.Value;

    public string Version { get; }

    /// <summary>The resource packed as <c>Any</c>, built once and shared by every stream.</summary>
    public Any AsAny() => _any ??= new Any { TypeUrl = TypeUrl, Value = Bytes };
}

/// <summary>Versions are the first 16 hex digits of SHA-256: stable across processes, short, collision-safe for this use.</summary>
public static class ContentHash
{
    public static string Of(ReadOnlySpan<byte> bytes)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    public static string Of(string text) => Of(Encoding.UTF8.GetBytes(text));

    /// <summary>A hash of an ordered sequence of parts (each already a hash or a short string), each followed by a 0 byte.</summary>
    public static string OfParts(IEnumerable<string> parts)
    {
        // Runs over every chain of the shared listeners on each change: one buffer, one hash call.
        var list = parts as IReadOnlyList<string> ?? parts.ToList();
        var length = 0;
        foreach (var part in list)
        {
            length += Encoding.UTF8.GetByteCount(part) + 1;
        }
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        try
        {
            var offset = 0;
            foreach (var part in list)
            {
                offset += Encoding.UTF8.GetBytes(part, buffer.AsSpan(offset));
                buffer[offset++] = 0;
            }
            return Of(buffer.AsSpan(0, length));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A 128-bit digest of one (name, version) entry. A set's digest is the sum of its entries' digests:
    /// independent of order and updatable in O(1) per changed entry.
    /// </summary>
    public static UInt128 EntryDigest(string name, string version)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{name}\0{version}"), hash);
        return BinaryPrimitives.ReadUInt128LittleEndian(hash);
    }

    public static string FormatDigest(UInt128 digest)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128LittleEndian(bytes, digest);
        return Convert.ToHexStringLower(bytes[..8]);
    }
}
