using System.Reflection;
using Google.Protobuf;
using Google.Protobuf.Reflection;

namespace XdsControlPlane.Snapshots;

/// <summary>Renders Envoy resources as canonical Envoy JSON (what <c>config_dump</c> shows), including every packed <c>Any</c>.</summary>
public static class EnvoyJson
{
    /// <summary>Every message type of the generated Envoy API, so any <c>Any</c> we emit can be rendered and unpacked.</summary>
    public static TypeRegistry Registry { get; } = TypeRegistry.FromMessages(
        typeof(Envoy.Config.Listener.V3.Listener).Assembly.GetTypes()
            .Where(t => typeof(IMessage).IsAssignableFrom(t) && !t.IsAbstract)
            .Select(t => t.GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null))
            .OfType<MessageDescriptor>());

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Registry).WithIndentation());
    private static readonly JsonFormatter Compact = new(JsonFormatter.Settings.Default.WithTypeRegistry(Registry));

    public static string Format(IMessage message, bool indented = true) => (indented ? Formatter : Compact).Format(message);
}
