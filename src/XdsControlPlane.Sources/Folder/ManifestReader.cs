using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using k8s;
using k8s.Models;
using XdsControlPlane.Sources.Kubernetes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace XdsControlPlane.Sources.Folder;

/// <summary>
/// Reads Kubernetes YAML manifests into the model types the translation consumes (KKP <see cref="KkpSeed"/> and
/// <see cref="KkpCluster"/>, <see cref="V1Service"/>, <see cref="V1EndpointSlice"/>).
/// </summary>
/// <remarks>
/// Each document is parsed once by YamlDotNet's event parser, written as JSON, and read by System.Text.Json with the
/// options the client's own JSON reader uses: the objects are the ones the API-server source gets from a watch.
/// KubernetesClient's <c>KubernetesYaml</c> (what this replaced) parses every document three times through
/// YamlDotNet's reflection deserializer under one process-wide lock; reading 25 MB took ~13 s and could not use a
/// second core. Kinds the translation does not read are skipped without being converted, but still parsed, so a
/// syntax error anywhere in a file is reported.
/// </remarks>
public static class ManifestReader
{
    private static readonly Dictionary<string, Type> TypeMap = new(StringComparer.Ordinal)
    {
        [$"{KkpCluster.Group}/{KkpCluster.Version}/{KkpCluster.KindName}"] = typeof(KkpCluster),
        [$"{KkpCluster.Group}/{KkpCluster.Version}/{KkpSeed.KindName}"] = typeof(KkpSeed),
        ["v1/Service"] = typeof(V1Service),
        ["discovery.k8s.io/v1/EndpointSlice"] = typeof(V1EndpointSlice),
    };

    /// <summary>An alias may repeat a node, so a few lines can describe an enormous document; refuse past this many events.</summary>
    private const int MaxExpandedEventsPerDocument = 1_000_000;

    /// <summary>Nesting deeper than any Kubernetes object; the writer recurses, so deeper input is refused, not a stack overflow.</summary>
    private const int MaxDepth = 128;

    private static readonly JsonSerializerOptions Options = CreateOptions();

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // What we write is well-formed by construction; the encoder only has to produce valid JSON for the reader.
        SkipValidation = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>True for the apiVersion/kind pairs this reader turns into objects.</summary>
    public static bool IsReadKind(string apiVersion, string kind) => TypeMap.ContainsKey($"{apiVersion}/{kind}");

    /// <summary>Reads every document of one file; kinds we do not use are skipped rather than refused.</summary>
    /// <exception cref="YamlException">The text is not YAML (the message names the line and column).</exception>
    /// <exception cref="FormatException">A document is not a Kubernetes object, or a field has a value of the wrong type.</exception>
    public static List<object> Read(string yaml)
    {
        var result = new List<object>();
        var parser = new Parser(new StringReader(yaml));
        // Merge keys ("<<: *base") are rare; only a file that could contain one pays for looking for them.
        var mayMerge = yaml.Contains("<<", StringComparison.Ordinal);
        var events = new List<ParsingEvent>(256);
        var buffer = new ArrayBufferWriter<byte>(4096);
        parser.Consume<StreamStart>();
        while (parser.TryConsume<DocumentStart>(out var start))
        {
            events.Clear();
            while (!parser.TryConsume<DocumentEnd>(out _))
            {
                // TryConsume has moved past the DocumentStart; Current is the document's first event.
                events.Add(parser.Current!);
                parser.MoveNext();
            }
            if (ReadDocument(events, mayMerge, start.Start.Line, buffer) is { } obj)
            {
                result.Add(obj);
            }
        }
        parser.Consume<StreamEnd>();
        return result;
    }

    private static object? ReadDocument(List<ParsingEvent> events, bool mayMerge, long line, ArrayBufferWriter<byte> buffer)
    {
        var document = new Document(events, mayMerge);
        if (events.Count == 0 || events[0] is Scalar { Style: ScalarStyle.Plain, Value: "" or "~" or "null" })
        {
            return null; // an empty document, e.g. only comments after "---"
        }
        if (events[0] is not MappingStart)
        {
            throw new FormatException($"the document at line {line} is not a mapping (a Kubernetes object)");
        }
        var (apiVersion, kind, name) = document.Header();
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
        {
            throw new FormatException($"the document at line {line} has no apiVersion or kind");
        }
        if (!TypeMap.TryGetValue($"{apiVersion}/{kind}", out var type))
        {
            return null;
        }
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            document.Write(writer);
        }
        try
        {
            return JsonSerializer.Deserialize(buffer.WrittenSpan, Options.GetTypeInfo(type))
                ?? throw new FormatException($"the document at line {line} is empty");
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path ? path[2..] : "the object";
            var reason = e.InnerException?.Message ?? e.Message;
            var cut = reason.IndexOf(" Path:", StringComparison.Ordinal);
            throw new FormatException($"{kind} {name} (line {line}): {field}: {(cut > 0 ? reason[..cut] : reason)}", e);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException)
        {
            // A converter's own error (the client's date reader refusing a timestamp): no JSON path, but the object.
            throw new FormatException($"{kind} {name} (line {line}): {e.Message.Split('\n')[0].Trim()}", e);
        }
    }

    /// <summary>The client's JSON options (camelCase, its date converters, string enums), read leniently as YAML is typed.</summary>
    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            // YAML does not distinguish "30001" from 30001 for a typed field; neither did the YAML deserializer.
            NumberHandling = JsonNumberHandling.AllowReadingFromString,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        };
        options.Converters.Add(new PlainScalarStringConverter());
        options.Converters.Add(new PlainScalarBooleanConverter());
        options.Converters.Add(new JsonStringEnumConverter());
        options.Converters.Add(new KubernetesJson.Iso8601TimeSpanConverter());
        options.Converters.Add(new KubernetesJson.KubernetesDateTimeConverter());
        options.Converters.Add(new KubernetesJson.KubernetesDateTimeOffsetConverter());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>One document's events, walked by index so that an alias can replay the node its anchor names.</summary>
    private sealed class Document(List<ParsingEvent> events, bool mayMerge)
    {
        private readonly Dictionary<string, int> _anchors = new(StringComparer.Ordinal);
        private int _expanded;

        public (string? ApiVersion, string? Kind, string Name) Header()
        {
            string? apiVersion = null, kind = null, name = null, ns = null;
            var i = 1;
            while (events[i] is not MappingEnd)
            {
                var key = events[i] as Scalar;
                var value = Skip(i);
                var next = Skip(value);
                switch (key?.Value)
                {
                    case "apiVersion":
                        apiVersion = ScalarAt(value);
                        break;
                    case "kind":
                        kind = ScalarAt(value);
                        break;
                    case "metadata" when events[value] is MappingStart:
                        for (var j = value + 1; events[j] is not MappingEnd; j = Skip(Skip(j)))
                        {
                            if (events[j] is Scalar { Value: "name" })
                            {
                                name = ScalarAt(j + 1);
                            }
                            else if (events[j] is Scalar { Value: "namespace" })
                            {
                                ns = ScalarAt(j + 1);
                            }
                        }
                        break;
                }
                i = next;
            }
            return (apiVersion, kind, ns is null ? name ?? "(no name)" : $"{ns}/{name}");
        }

        private string? ScalarAt(int i) => events[i] switch
        {
            Scalar s => s.Value,
            AnchorAlias a when _anchors.TryGetValue(a.Value.Value, out var at) || TryFindAnchor(a.Value.Value, out at) => ScalarAt(at),
            _ => null,
        };

        /// <summary>The header is read before the document is written, so an anchor may not be recorded yet.</summary>
        private bool TryFindAnchor(string anchor, out int at)
        {
            for (at = 0; at < events.Count; at++)
            {
                if (events[at] is NodeEvent { Anchor.IsEmpty: false } n && n.Anchor.Value == anchor)
                {
                    return true;
                }
            }
            return false;
        }

        /// <summary>The index after the node that starts at <paramref name="i"/>.</summary>
        private int Skip(int i)
        {
            var depth = 0;
            do
            {
                switch (events[i])
                {
                    case MappingStart or SequenceStart:
                        depth++;
                        break;
                    case MappingEnd or SequenceEnd:
                        depth--;
                        break;
                }
                i++;
            }
            while (depth > 0);
            return i;
        }

        public void Write(Utf8JsonWriter writer) => WriteNode(writer, 0, 0);

        private int WriteNode(Utf8JsonWriter writer, int i, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new FormatException($"line {events[i].Start.Line}: nested deeper than {MaxDepth} levels");
            }
            var e = events[i];
            int next;
            switch (e)
            {
                case Scalar s:
                    WriteScalar(writer, s);
                    next = i + 1;
                    break;
                case SequenceStart:
                    writer.WriteStartArray();
                    next = i + 1;
                    while (events[next] is not SequenceEnd)
                    {
                        next = WriteNode(writer, next, depth + 1);
                    }
                    writer.WriteEndArray();
                    next++;
                    break;
                case MappingStart:
                    writer.WriteStartObject();
                    next = WriteEntries(writer, i, depth);
                    writer.WriteEndObject();
                    break;
                case AnchorAlias alias:
                    WriteNode(writer, Resolve(alias), depth + 1);
                    return i + 1;
                default:
                    throw new FormatException($"unexpected YAML event {e}");
            }
            // Recorded once the node is complete, so a node cannot contain an alias of itself (an endless expansion).
            if (e is NodeEvent { Anchor.IsEmpty: false } anchored)
            {
                _anchors[anchored.Anchor.Value] = i;
            }
            return next;
        }

        private int Resolve(AnchorAlias alias)
        {
            if (!_anchors.TryGetValue(alias.Value.Value, out var at))
            {
                throw new FormatException($"line {alias.Start.Line}: the alias *{alias.Value} names no anchor before it");
            }
            _expanded += Skip(at) - at;
            if (_expanded > MaxExpandedEventsPerDocument)
            {
                throw new FormatException($"line {alias.Start.Line}: aliases expand the document beyond {MaxExpandedEventsPerDocument} nodes");
            }
            return at;
        }

        /// <summary>Writes the entries of the mapping that starts at <paramref name="i"/>; returns the index after it.</summary>
        private int WriteEntries(Utf8JsonWriter writer, int i, int depth)
        {
            if (mayMerge && HasMergeKey(i))
            {
                return WriteMergedEntries(writer, i, depth);
            }
            i++;
            while (events[i] is not MappingEnd)
            {
                writer.WritePropertyName(KeyAt(i));
                i = WriteNode(writer, Skip(i) == i + 1 ? i + 1 : throw NotScalarKey(i), depth + 1);
            }
            return i + 1;
        }

        /// <summary>
        /// YAML merge keys: explicit keys win over merged ones, and an earlier merged mapping over a later one.
        /// JSON objects keep the last of duplicate names, so the lowest precedence is written first.
        /// </summary>
        private int WriteMergedEntries(Utf8JsonWriter writer, int i, int depth)
        {
            if (depth > MaxDepth)
            {
                throw new FormatException($"line {events[i].Start.Line}: merge keys nest deeper than {MaxDepth} levels");
            }
            var merges = new List<int>();
            var explicitKeys = new List<int>();
            for (var j = i + 1; events[j] is not MappingEnd; j = Skip(Skip(j)))
            {
                (IsMergeKey(j) ? merges : explicitKeys).Add(j);
            }
            for (var m = merges.Count - 1; m >= 0; m--)
            {
                var value = merges[m] + 1;
                if (events[value] is AnchorAlias a)
                {
                    RegisterAnchorsBetween(i + 1, value);
                    value = Resolve(a);
                }
                if (events[value] is MappingStart)
                {
                    WriteEntries(writer, value, depth + 1);
                }
                else if (events[value] is SequenceStart)
                {
                    var sources = new List<int>();
                    for (var k = value + 1; events[k] is not SequenceEnd; k = Skip(k))
                    {
                        sources.Add(events[k] is AnchorAlias sa ? Resolve(sa) : k);
                    }
                    for (var s = sources.Count - 1; s >= 0; s--)
                    {
                        WriteEntries(writer, events[sources[s]] is MappingStart ? sources[s] : throw NotMergeable(value), depth + 1);
                    }
                }
                else
                {
                    throw NotMergeable(value);
                }
            }
            foreach (var key in explicitKeys)
            {
                writer.WritePropertyName(KeyAt(key));
                WriteNode(writer, Skip(key) == key + 1 ? key + 1 : throw NotScalarKey(key), depth + 1);
            }
            return Skip(i);
        }

        /// <summary>Anchors defined inside this mapping before a merge key are usable by it; record them.</summary>
        private void RegisterAnchorsBetween(int from, int to)
        {
            for (var k = from; k < to; k++)
            {
                if (events[k] is NodeEvent { Anchor.IsEmpty: false } n)
                {
                    _anchors[n.Anchor.Value] = k;
                }
            }
        }

        private bool HasMergeKey(int i)
        {
            for (var j = i + 1; events[j] is not MappingEnd; j = Skip(Skip(j)))
            {
                if (IsMergeKey(j))
                {
                    return true;
                }
            }
            return false;
        }

        private bool IsMergeKey(int i) => events[i] is Scalar { Style: ScalarStyle.Plain, Value: "<<" };

        private string KeyAt(int i) => events[i] switch
        {
            Scalar s => s.Value,
            AnchorAlias a => events[Resolve(a)] is Scalar s ? s.Value : throw NotScalarKey(i),
            _ => throw NotScalarKey(i),
        };

        private FormatException NotScalarKey(int i) =>
            new($"line {events[i].Start.Line}: a mapping key is not a plain value");

        private FormatException NotMergeable(int i) =>
            new($"line {events[i].Start.Line}: a merge key (<<) must name a mapping or a list of mappings");

        /// <summary>
        /// Quoted and block scalars are strings. Plain ones are typed as YAML's core schema types them, but only into
        /// JSON's own types (null, true/false, numbers written as JSON writes them); anything else stays a string,
        /// and the lenient converters turn it into the field's type as the YAML deserializer did.
        /// </summary>
        private static void WriteScalar(Utf8JsonWriter writer, Scalar s)
        {
            var value = s.Value;
            if (s.Style != ScalarStyle.Plain || (!s.Tag.IsEmpty && !s.Tag.IsNonSpecific && s.Tag.Value == "tag:yaml.org,2002:str"))
            {
                writer.WriteStringValue(value);
            }
            else if (value is "" or "~" or "null" or "Null" or "NULL")
            {
                writer.WriteNullValue();
            }
            else if (value is "true")
            {
                writer.WriteBooleanValue(true);
            }
            else if (value is "false")
            {
                writer.WriteBooleanValue(false);
            }
            else if (IsJsonNumber(value))
            {
                writer.WriteRawValue(value, skipInputValidation: true);
            }
            else
            {
                writer.WriteStringValue(value);
            }
        }
    }

    /// <summary>JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    internal static bool IsJsonNumber(string s)
    {
        var i = s.Length > 0 && s[0] == '-' ? 1 : 0;
        if (i >= s.Length || !char.IsAsciiDigit(s[i]))
        {
            return false;
        }
        i = s[i] == '0' ? i + 1 : SkipDigits(s, i);
        if (i < s.Length && s[i] == '.')
        {
            var digits = i + 1;
            if ((i = SkipDigits(s, digits)) == digits)
            {
                return false;
            }
        }
        if (i < s.Length && (s[i] == 'e' || s[i] == 'E'))
        {
            var digits = i + 1 < s.Length && (s[i + 1] == '+' || s[i + 1] == '-') ? i + 2 : i + 1;
            if ((i = SkipDigits(s, digits)) == digits)
            {
                return false;
            }
        }
        return i == s.Length;

        static int SkipDigits(string s, int i)
        {
            while (i < s.Length && char.IsAsciiDigit(s[i]))
            {
                i++;
            }
            return i;
        }
    }

    /// <summary>A string field takes a plain scalar as written: <c>version: 1.30</c> is "1.30", <c>enabled: true</c> is "true".</summary>
    private sealed class PlainScalarStringConverter : JsonConverter<string>
    {
        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan),
            JsonTokenType.True => "true",
            JsonTokenType.False => "false",
            _ => throw new JsonException($"expected a value, found {reader.TokenType}"),
        };

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

        public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetString()!;

        public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) =>
            writer.WritePropertyName(value);
    }

    /// <summary>A boolean field also takes "true"/"True"/"false" written as a string, as the YAML deserializer did.</summary>
    private sealed class PlainScalarBooleanConverter : JsonConverter<bool>
    {
        public override bool Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            JsonTokenType.String when bool.TryParse(reader.GetString(), out var b) => b,
            _ => throw new JsonException("expected true or false"),
        };

        public override void Write(Utf8JsonWriter writer, bool value, JsonSerializerOptions options) => writer.WriteBooleanValue(value);
    }
}
