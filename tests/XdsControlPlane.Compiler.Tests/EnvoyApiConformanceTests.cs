using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Validate;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// Every Any in the output unpacks into the generated Envoy type named by its type URL and re-serialises to
/// the same bytes, and every field the Envoy API marks as required (protoc-gen-validate rules in the protos)
/// is set: Envoy would NACK a resource that breaks either.
/// </summary>
public sealed class EnvoyApiConformanceTests
{
    public static TheoryData<string> Cases() => GoldenTests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryResourceRoundTripsAndMeetsValidationRules(string name)
    {
        var outcome = new TestPipeline().ApplyFolder(Path.Combine(AppContext.BaseDirectory, "Golden", name));
        if (!outcome.Applied)
        {
            return; // rejected inputs serve nothing: covered by the golden file
        }
        var anys = 0;
        foreach (var set in outcome.Current!.Snapshot.ByType.Values)
        {
            foreach (var resource in set.Resources.Values)
            {
                var reparsed = resource.Message.Descriptor.Parser.ParseFrom(resource.Bytes);
                Assert.Equal(resource.Bytes, reparsed.ToByteString());
                var violations = new List<string>();
                Walk(resource.Message, $"{resource.Name}", violations, ref anys);
                Assert.True(violations.Count == 0, string.Join("\n", violations));
            }
        }
        Assert.True(anys > 0);
    }

    [Fact]
    public void TheValidatorCatchesAMissingRequiredField()
    {
        // A tcp_proxy without stat_prefix (min_len: 1) and a listener filter without a name.
        var proxy = new Envoy.Extensions.Filters.Network.TcpProxy.V3.TcpProxy { Cluster = "x" };
        var violations = new List<string>();
        var anys = 0;
        Walk(proxy, "proxy", violations, ref anys);
        Assert.Contains(violations, v => v.Contains("stat_prefix", StringComparison.Ordinal));
    }

    private static void Walk(IMessage message, string path, List<string> violations, ref int anys)
    {
        if (message is Any any)
        {
            anys++;
            var descriptor = EnvoyJson.Registry.Find(Any.GetTypeName(any.TypeUrl));
            if (descriptor is null)
            {
                violations.Add($"{path}: Any of unknown type {any.TypeUrl}");
                return;
            }
            var inner = descriptor.Parser.ParseFrom(any.Value);
            if (inner.ToByteString() != any.Value)
            {
                violations.Add($"{path}: {any.TypeUrl} does not round-trip");
            }
            Walk(inner, $"{path}<{descriptor.Name}>", violations, ref anys);
            return;
        }
        foreach (var oneof in message.Descriptor.Oneofs)
        {
            if (oneof.GetOptions()?.GetExtension(ValidateExtensions.Required) == true && oneof.Accessor.GetCaseFieldDescriptor(message) is null)
            {
                violations.Add($"{path}: oneof {oneof.Name} is required");
            }
        }
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            // PGV applies a oneof member's rules only when that member is the one set.
            if (field.RealContainingOneof is { } containing && containing.Accessor.GetCaseFieldDescriptor(message) != field)
            {
                continue;
            }
            var value = field.Accessor.GetValue(message);
            var rules = field.GetOptions()?.GetExtension(ValidateExtensions.Rules);
            if (rules is not null)
            {
                Check(field, value, rules, $"{path}.{field.Name}", violations);
            }
            switch (value)
            {
                case IMessage child when field.FieldType == FieldType.Message:
                    Walk(child, $"{path}.{field.Name}", violations, ref anys);
                    break;
                case System.Collections.IDictionary map when field.IsMap:
                    foreach (System.Collections.DictionaryEntry entry in map)
                    {
                        if (entry.Value is IMessage item)
                        {
                            Walk(item, $"{path}.{field.Name}[{entry.Key}]", violations, ref anys);
                        }
                    }
                    break;
                case System.Collections.IList list when field.IsRepeated:
                    for (var i = 0; i < list.Count; i++)
                    {
                        if (list[i] is IMessage item)
                        {
                            Walk(item, $"{path}.{field.Name}[{i}]", violations, ref anys);
                        }
                    }
                    break;
            }
        }
    }

    private static void Check(FieldDescriptor field, object? value, FieldRules rules, string path, List<string> violations)
    {
        if (rules.Message?.Required == true && value is null)
        {
            violations.Add($"{path}: required");
        }
        if (rules.String is { } s && value is string text)
        {
            if (s.HasMinLen && (ulong)text.Length < s.MinLen)
            {
                violations.Add($"{path} ({field.FullName}): shorter than {s.MinLen}");
            }
            if (s.HasMinBytes && (ulong)System.Text.Encoding.UTF8.GetByteCount(text) < s.MinBytes)
            {
                violations.Add($"{path} ({field.FullName}): fewer than {s.MinBytes} bytes");
            }
        }
        if (rules.Repeated is { HasMinItems: true } r && value is System.Collections.IList items && (ulong)items.Count < r.MinItems)
        {
            violations.Add($"{path}: fewer than {r.MinItems} items");
        }
        if (rules.Map is { HasMinPairs: true } m && value is System.Collections.IDictionary pairs && (ulong)pairs.Count < m.MinPairs)
        {
            violations.Add($"{path}: fewer than {m.MinPairs} entries");
        }
        if (rules.Uint32 is { } u && value is uint number)
        {
            if ((u.HasLte && number > u.Lte) || (u.HasLt && number >= u.Lt) || (u.HasGt && number <= u.Gt) || (u.HasGte && number < u.Gte))
            {
                violations.Add($"{path}: {number} out of range");
            }
        }
        if (rules.Enum is { DefinedOnly: true } && value is System.Enum e && !System.Enum.IsDefined(e.GetType(), e))
        {
            violations.Add($"{path}: undefined enum value {e}");
        }
    }
}
