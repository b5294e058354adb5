using Google.Protobuf;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// A part of a shared listener (a chain of the SNI listener): its encoding,
/// kept instead of its message graph, and the content hash of that encoding.
/// </summary>
internal sealed record HashedPart<T>(string Name, ByteString Bytes, string Hash)
    where T : IMessage<T>, new()
{
    private static readonly MessageParser<T> Parser = new(() => new T());

    /// <summary>This part's share of its listener's running digest (see <see cref="PartsTally"/>).</summary>
    public UInt128 Digest { get; } = ContentHash.EntryDigest(Name, Hash);

    /// <summary>A fresh copy of the part, parsed from its bytes.</summary>
    public T Message => Parser.ParseFrom(Bytes);

    /// <summary>A part whose canonical encoding the caller wrote (see <see cref="ProtoWriter"/>).</summary>
    public static HashedPart<T> FromBytes(string name, ByteString bytes) => new(name, bytes, ContentHash.Of(bytes.Span));
}
