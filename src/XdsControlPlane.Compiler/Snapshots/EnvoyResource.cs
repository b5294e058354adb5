using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace XdsControlPlane.Compiler.Snapshots;

/// <summary>
/// One named Envoy resource, serialised once. Its version is a hash of its bytes, so identical content
/// has the identical version on every replica and after every restart.
/// </summary>
/// <remarks>The message must never be mutated after construction: snapshots share it.</remarks>
public sealed class EnvoyResource
{
    private Any? _any;

    public EnvoyResource(string name, IMessage message)
    {
        Name = name;
        Message = message;
        TypeUrl = TypeUrls.Prefix + message.Descriptor.FullName;
        Bytes = message.ToByteString();
        Version = ContentHash.Of(Bytes.Span);
    }

    public string Name { get; }

    public string TypeUrl { get; }

    public IMessage Message { get; }

    /// <summary>Deterministic protobuf encoding (fields in number order; we insert map entries in sorted order).</summary>
    public ByteString Bytes { get; }

    public string Version { get; }

    /// <summary>The resource packed as <c>Any</c>, built once and shared by every stream.</summary>
    public Any AsAny() => _any ??= new Any { TypeUrl = TypeUrl, Value = Bytes };
}

/// <summary>Versions are the first 16 hex digits of SHA-256: stable, short, collision-safe for this use.</summary>
public static class ContentHash
{
    public static string Of(ReadOnlySpan<byte> bytes)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        return Convert.ToHexStringLower(hash[..8]);
    }

    /// <summary>A version for a set of named versions, independent of the order they were produced in.</summary>
    public static string OfVersions(IEnumerable<KeyValuePair<string, string>> sortedNameVersions)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> separator = [0];
        foreach (var (name, version) in sortedNameVersions)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            sha.AppendData(separator);
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(version));
            sha.AppendData(separator);
        }
        Span<byte> hash = stackalloc byte[32];
        sha.GetHashAndReset(hash);
        return Convert.ToHexStringLower(hash[..8]);
    }
}
