using System.Text;
using Google.Protobuf;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Writes a protobuf encoding field by field: the one way the compiler produces the bytes of what it serves (every
/// resource, shared or per tenant, and the RBAC configs and matchers inside them). Building message graphs only to
/// serialise them was most of what a full compile allocated, and the collector's work grows with that.
/// </summary>
/// <remarks>
/// The caller writes fields in field-number order, names each field by the generated <c>…FieldNumber</c>
/// constant of its Envoy type (a map entry's by <see cref="MapKeyFieldNumber"/> and <see cref="MapValueFieldNumber"/>),
/// and leaves out proto3 defaults (empty strings, zeros, false) as the canonical encoding does, except for oneof
/// members, which are written whatever their value (<see cref="StringOneof(int, string)"/>, <see cref="UInt32Oneof"/>,
/// <see cref="BoolOneof"/>). So a resource's bytes, hence its version, are what serialising the message gives; a
/// test parses every compiled resource and re-serialises it to hold the writers to that. A nested message is opened
/// with <see cref="Begin"/> and closed with <see cref="End"/>, which writes its length in the byte kept for it, or
/// moves the body to make room for a longer one (a body of 128 bytes or more).
/// </remarks>
internal sealed class ProtoWriter
{
    // Writers are reused per thread; an encoding written while another is open on the thread gets its own.
    [ThreadStatic]
    private static Stack<ProtoWriter>? _spares;

    private byte[] _buffer;
    private readonly int[] _open = new int[32];
    private int _depth;
    private int _position;
    private bool _writing;
    private readonly bool _sized; // a writer of its own (StartSized): never a thread's spare

    // A UTF-16 char becomes at most 3 UTF-8 bytes (a surrogate pair, 2 chars, becomes 4).
    private const int MaxCharsForOneByteLength = 127 / 3;

    private ProtoWriter(int capacity = 1024, bool sized = false)
    {
        _buffer = new byte[capacity];
        _sized = sized;
    }

    /// <summary>A writer with nothing written: one of this thread's spare ones, or a new one while they are all in use.</summary>
    public static ProtoWriter Start()
    {
        var writer = _spares is { Count: > 0 } spares ? spares.Pop() : new ProtoWriter();
        writer._position = 0;
        writer._depth = 0;
        writer._writing = true;
        return writer;
    }

    /// <summary>
    /// A writer of its own for one large encoding of <paramref name="size"/> bytes (a shared listener with every
    /// tenant's chain): written into an array of that size, handed over by <see cref="Finish"/> without a copy when
    /// the size was exact, rather than grown in a thread's spare writer, which would then keep megabytes.
    /// </summary>
    public static ProtoWriter StartSized(int size)
    {
        var writer = new ProtoWriter(Math.Max(size, 1), sized: true);
        writer._writing = true;
        return writer;
    }

    /// <summary>The bytes written, in an array of their own; the writer goes back to the thread for the next encoding.</summary>
    public ByteString Finish()
    {
        if (!_writing)
        {
            throw new InvalidOperationException("this encoding was finished already");
        }
        if (_depth != 0)
        {
            throw new InvalidOperationException($"{_depth} nested message(s) were not ended");
        }
        _writing = false;
        if (_sized && _position == _buffer.Length)
        {
            return UnsafeByteOperations.UnsafeWrap(_buffer);
        }
        var bytes = _buffer.AsSpan(0, _position).ToArray();
        if (!_sized)
        {
            (_spares ??= new Stack<ProtoWriter>()).Push(this);
        }
        // The array is never written again: wrapping it instead of copying is safe.
        return UnsafeByteOperations.UnsafeWrap(bytes);
    }

    /// <summary>
    /// The key field of a map entry: protobuf encodes <c>map&lt;K, V&gt;</c> as a repeated message
    /// <c>{ K key = 1; V value = 2; }</c> (the language guide's "backwards compatibility" form), and the generated
    /// types expose no constant for it. Opened with <see cref="Begin"/> on the map field, like any message.
    /// </summary>
    public const int MapKeyFieldNumber = 1;

    /// <summary>The value field of a map entry (see <see cref="MapKeyFieldNumber"/>).</summary>
    public const int MapValueFieldNumber = 2;

    /// <summary>A string field, left out when empty (proto3 implicit presence). Not for a oneof member: see <see cref="StringOneof(int, string)"/>.</summary>
    public ProtoWriter String(int field, string value) => String(field, value.AsSpan());

    /// <summary>A string field from text formatted in place (a range's address), left out when empty.</summary>
    public ProtoWriter String(int field, ReadOnlySpan<char> value) => value.Length == 0 ? this : StringOneof(field, value);

    /// <summary>
    /// A string that is a oneof member: written even when empty. A set oneof member has explicit presence, so the
    /// serialiser writes it whatever its value, and an empty one is not the same message as an unset one (Envoy
    /// would see no member of the oneof at all).
    /// </summary>
    public ProtoWriter StringOneof(int field, string value) => StringOneof(field, value.AsSpan());

    /// <summary><see cref="StringOneof(int, string)"/> from text formatted in place.</summary>
    public ProtoWriter StringOneof(int field, ReadOnlySpan<char> value)
    {
        Tag(field, WireFormat.WireType.LengthDelimited);
        if (value.Length <= MaxCharsForOneByteLength && _buffer.Length - _position >= 1 + (MaxCharsForOneByteLength * 3))
        {
            // Short (names, addresses): its UTF-8 length is below 128 whatever it holds, so it is written in
            // one pass after a one-byte length, rather than measured first. Not at the end of the buffer, where
            // the worst case would grow a writer sized exactly (StartSized): measured, it takes what it needs.
            var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_position + 1));
            _buffer[_position] = (byte)written;
            _position += 1 + written;
            return this;
        }
        var length = Encoding.UTF8.GetByteCount(value);
        Varint((uint)length);
        Reserve(length);
        _position += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_position));
        return this;
    }

    /// <summary>A bool field, left out when false.</summary>
    public ProtoWriter Bool(int field, bool value) => UInt32(field, value ? 1u : 0u);

    /// <summary>A bool that is a oneof member: written even when false (see <see cref="StringOneof(int, string)"/>).</summary>
    public ProtoWriter BoolOneof(int field, bool value) => UInt32Oneof(field, value ? 1u : 0u);

    /// <summary>A string in a repeated field: written even when empty, as every element of a list is.</summary>
    public ProtoWriter RepeatedString(int field, string value) => StringOneof(field, value);

    /// <summary>A message field whose encoding is already known (always written: a set message field or a list element).</summary>
    public ProtoWriter Message(int field, ReadOnlySpan<byte> encoded)
    {
        Tag(field, WireFormat.WireType.LengthDelimited);
        Varint((uint)encoded.Length);
        Raw(encoded);
        return this;
    }

    /// <summary>The size of a length-delimited field of <paramref name="length"/> bytes: its tag, its length, its body.</summary>
    public static int LengthDelimitedSize(int field, int length) =>
        CodedOutputStream.ComputeTagSize(field) + CodedOutputStream.ComputeLengthSize(length) + length;

    /// <summary>Encoded fields of the message being written, as they are (a run of fields cached per seed).</summary>
    public ProtoWriter Raw(ReadOnlySpan<byte> encoded)
    {
        Reserve(encoded.Length);
        encoded.CopyTo(_buffer.AsSpan(_position));
        _position += encoded.Length;
        return this;
    }

    /// <summary>
    /// Opens a <c>google.protobuf.Any</c> field of type <paramref name="typeUrl"/> whose value is written in place,
    /// then <see cref="EndAny"/>. The value must not be empty: the canonical encoding leaves empty bytes out.
    /// </summary>
    public ProtoWriter BeginAny(int field, string typeUrl) =>
        Begin(field).String(Google.Protobuf.WellKnownTypes.Any.TypeUrlFieldNumber, typeUrl).Begin(Google.Protobuf.WellKnownTypes.Any.ValueFieldNumber);

    /// <summary>
    /// A <c>google.protobuf.Any</c> field holding a message of type <paramref name="typeUrl"/> with no field set
    /// (a router, a TLS inspector): its encoding is empty, and empty bytes are left out, so the Any is its type URL alone.
    /// </summary>
    public ProtoWriter EmptyAny(int field, string typeUrl) =>
        Begin(field).String(Google.Protobuf.WellKnownTypes.Any.TypeUrlFieldNumber, typeUrl).End();

    /// <summary>Closes the field <see cref="BeginAny"/> opened.</summary>
    public ProtoWriter EndAny()
    {
        if (_position == _open[_depth - 1])
        {
            throw new InvalidOperationException("an Any written in place must have a value");
        }
        return End().End();
    }

    /// <summary>A varint field (uint32, enum), left out when 0.</summary>
    public ProtoWriter UInt32(int field, uint value)
    {
        if (value != 0)
        {
            Tag(field, WireFormat.WireType.Varint);
            Varint(value);
        }
        return this;
    }

    /// <summary>A varint that is a oneof member (an enum whose zero is meaningful, a port): written even when 0.</summary>
    public ProtoWriter UInt32Oneof(int field, uint value)
    {
        Tag(field, WireFormat.WireType.Varint);
        Varint(value);
        return this;
    }

    /// <summary>A <c>google.protobuf.UInt32Value</c> field (always written: it is a message; its value left out when 0).</summary>
    public ProtoWriter UInt32Value(int field, uint value) =>
        Begin(field).UInt32(Google.Protobuf.WellKnownTypes.UInt32Value.ValueFieldNumber, value).End();

    /// <summary>A <c>google.protobuf.BoolValue</c> field (always written: it is a message; its value left out when false).</summary>
    public ProtoWriter BoolValue(int field, bool value) =>
        Begin(field).Bool(Google.Protobuf.WellKnownTypes.BoolValue.ValueFieldNumber, value).End();

    /// <summary>A <c>google.protobuf.Duration</c> field (always written: it is a message).</summary>
    public ProtoWriter Duration(int field, TimeSpan value)
    {
        // As Duration.FromTimeSpan splits it (both parts carry the sign), without building the message.
        var seconds = value.Ticks / TimeSpan.TicksPerSecond;
        var nanos = (value.Ticks % TimeSpan.TicksPerSecond) * (1_000_000_000 / TimeSpan.TicksPerSecond);
        Begin(field);
        if (seconds != 0)
        {
            Tag(Google.Protobuf.WellKnownTypes.Duration.SecondsFieldNumber, WireFormat.WireType.Varint);
            Varint64((ulong)seconds);
        }
        if (nanos != 0)
        {
            // int32: a negative value is sign-extended to ten bytes, as the serialiser writes it.
            Tag(Google.Protobuf.WellKnownTypes.Duration.NanosFieldNumber, WireFormat.WireType.Varint);
            Varint64((ulong)nanos);
        }
        return End();
    }

    /// <summary>Opens a message field; its fields follow, then <see cref="End"/>.</summary>
    public ProtoWriter Begin(int field)
    {
        Tag(field, WireFormat.WireType.LengthDelimited);
        // One byte is kept for the length, enough for most nested messages (a range, an address, a principal).
        Reserve(1);
        _position++;
        _open[_depth++] = _position;
        return this;
    }

    /// <summary>Closes the innermost open message field, writing its length before its body.</summary>
    public ProtoWriter End()
    {
        var start = _open[--_depth];
        var length = _position - start;
        if (length < 0x80)
        {
            _buffer[start - 1] = (byte)length;
            return this;
        }
        // A longer body moves to make room for a longer length (an overlapping move, a native call: fine for the
        // few bodies of 128 bytes or more, too costly for every nested message, hence the byte kept above).
        var extra = CodedOutputStream.ComputeLengthSize(length) - 1;
        Reserve(extra);
        _buffer.AsSpan(start, length).CopyTo(_buffer.AsSpan(start + extra));
        _position = start - 1;
        Varint((uint)length);
        _position += length;
        return this;
    }

    private void Tag(int field, WireFormat.WireType type) => Varint(WireFormat.MakeTag(field, type));

    private void Varint(uint value) => Varint64(value);

    private void Varint64(ulong value)
    {
        if (_buffer.Length - _position < 10)
        {
            // Exactly what it needs near the end (a writer sized exactly must not grow), ten bytes at most.
            Reserve(CodedOutputStream.ComputeRawVarint64Size(value));
        }
        while (value >= 0x80)
        {
            _buffer[_position++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_position++] = (byte)value;
    }

    private void Reserve(int count)
    {
        if (_buffer.Length - _position < count)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _position + count));
        }
    }
}
