using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace XdsControlPlane.Snapshots;

/// <summary>
/// One named Envoy resource. Its version is a content hash, so identical content has the identical
/// version on every replica and after every restart; its bytes are produced once and shared by every stream.
/// </summary>
/// <remarks>
/// A resource built from a message keeps its bytes, not the message: at 10,000 tenants the message graphs
/// were three quarters of a snapshot's memory and most of what each garbage collection had to walk.
/// <see cref="Message"/> parses a fresh copy when asked (the debug page, tests); what the server needs to know
/// about a resource's references is read once (<see cref="ResourceReferences"/>).
/// </remarks>
public sealed class EnvoyResource
{
    private ByteString? _bytes;
    private object? _serializing; // lock for the lazy encodings only (composites): null for the rest
    private readonly MessageParser? _parser;
    private IMessage? _message;
    private readonly Func<ByteString>? _encode;
    private Any? _any;

    /// <summary>Serialises now and versions by the bytes.</summary>
    public EnvoyResource(string name, IMessage message)
    {
        Name = name;
        _parser = message.Descriptor.Parser;
        TypeUrl = ProtoBytes.TypeUrlOf(message);
        _bytes = ProtoBytes.Serialize(message);
        Version = ContentHash.Of(_bytes.Span);
        EntryDigest = ContentHash.EntryDigest(name, Version);
    }

    /// <summary>
    /// A resource whose version the caller chose (tests, and wrappers that must be serialised only when sent):
    /// unlike the others it keeps its message, serialised on first use.
    /// </summary>
    public EnvoyResource(string name, IMessage message, string version)
    {
        Name = name;
        _message = message;
        TypeUrl = ProtoBytes.TypeUrlOf(message);
        Version = version;
        EntryDigest = ContentHash.EntryDigest(name, version);
    }

    /// <summary>
    /// For the shared listeners: the version is a running digest of their parts, and the encoding (with every
    /// tenant's part) is produced only on first use; the message is parsed from it when asked, and the references
    /// are gathered from the parts.
    /// </summary>
    public EnvoyResource(string name, MessageDescriptor descriptor, Func<ByteString> encode, string version, ResourceParts parts)
    {
        Name = name;
        Parts = parts;
        _parser = descriptor.Parser;
        _encode = encode;
        TypeUrl = ProtoBytes.TypeUrlOf(descriptor);
        Version = version;
        EntryDigest = ContentHash.EntryDigest(name, version);
    }

    /// <summary>A resource whose canonical encoding the caller produced (see TenantCompiler.ClusterBytes); versioned by those bytes.</summary>
    public static EnvoyResource FromBytes(string name, MessageDescriptor descriptor, ByteString bytes) => new(name, descriptor, bytes);

    private EnvoyResource(string name, MessageDescriptor descriptor, ByteString bytes)
    {
        Name = name;
        _parser = descriptor.Parser;
        TypeUrl = ProtoBytes.TypeUrlOf(descriptor);
        _bytes = bytes;
        Version = ContentHash.Of(bytes.Span);
        EntryDigest = ContentHash.EntryDigest(name, Version);
    }

    private ResourceReferences? _references;

    /// <summary>For a resource made of parts (a shared listener's chains): each part's references, and what changed
    /// since the resource it was derived from. Null for the rest.</summary>
    public ResourceParts? Parts { get; }

    /// <summary>
    /// What the resource refers to, read on first use and kept (racing threads read equal values; the reference
    /// write is atomic): from its parts for a composite (each read once) instead of parsing the whole, else from its message.
    /// </summary>
    internal ResourceReferences References => _references ??= Parts is { } parts ? ResourceReferences.Union(parts.All.Select(p => p.References)) : ResourceReferences.Read(this);

    public string Name { get; }

    public string TypeUrl { get; }

    /// <summary>The resource as a message: for one built from a message, a fresh copy parsed from <see cref="Bytes"/>.</summary>
    public IMessage Message => _message ?? _parser!.ParseFrom(Bytes);

    /// <summary>Deterministic protobuf encoding (fields in number order; map entries inserted in sorted order).</summary>
    public ByteString Bytes => _bytes ?? LazyInitializer.EnsureInitialized(ref _bytes, ref _serializing, () => _encode is not null ? _encode() : ProtoBytes.Serialize(_message!));

    public string Version { get; }

    /// <summary><see cref="ContentHash.EntryDigest"/> of this resource, computed once: sets add and subtract it on every change.</summary>
    public UInt128 EntryDigest { get; }

    /// <summary>The resource packed as <c>Any</c>, built once and shared by every stream.</summary>
    public Any AsAny() => _any ??= new Any { TypeUrl = TypeUrl, Value = Bytes };
}
