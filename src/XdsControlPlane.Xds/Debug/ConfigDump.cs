using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using XdsControlPlane.Compiler.Snapshots;

namespace XdsControlPlane.Xds.Debug;

/// <summary>Renders a snapshot as Envoy-style JSON (proto3 JSON mapping, <c>@type</c> on every Any).</summary>
public static class ConfigDump
{
    private static readonly TypeRegistry Registry = TypeRegistry.FromFiles(
        Envoy.Config.Cluster.V3.ClusterReflection.Descriptor,
        Envoy.Config.Endpoint.V3.EndpointReflection.Descriptor,
        Envoy.Config.Listener.V3.ListenerReflection.Descriptor,
        Envoy.Config.Route.V3.RouteReflection.Descriptor,
        Envoy.Config.Core.V3.ExtensionReflection.Descriptor,
        Envoy.Extensions.Filters.Network.TcpProxy.V3.TcpProxyReflection.Descriptor,
        Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManagerReflection.Descriptor,
        Envoy.Extensions.Filters.Network.Rbac.V3.RbacReflection.Descriptor,
        Envoy.Extensions.Filters.Http.Rbac.V3.RbacReflection.Descriptor,
        Envoy.Extensions.Filters.Http.Router.V3.RouterReflection.Descriptor,
        Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheckReflection.Descriptor,
        Envoy.Extensions.Filters.Listener.TlsInspector.V3.TlsInspectorReflection.Descriptor,
        Envoy.Extensions.Filters.Listener.ProxyProtocol.V3.ProxyProtocolReflection.Descriptor,
        Envoy.Extensions.Matching.CommonInputs.Network.V3.NetworkInputsReflection.Descriptor,
        Envoy.Extensions.Matching.InputMatchers.Ip.V3.IpReflection.Descriptor);

    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithTypeRegistry(Registry).WithIndentation());

    /// <summary><c>{"version": ..., "types": [{"type_url", "version", "resources": [...]}]}</c>.</summary>
    public static string Render(CurrentSnapshot current)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, SkipValidation = false }))
        {
            json.WriteStartObject();
            json.WriteString("version", current.Snapshot.Version);
            json.WriteNumber("generation", current.Generation);
            json.WriteString("accepted_at", current.AcceptedAt);
            json.WriteStartArray("types");
            foreach (var typeUrl in TypeUrls.PushOrder)
            {
                var set = current.Snapshot.Get(typeUrl);
                json.WriteStartObject();
                json.WriteString("type_url", typeUrl);
                json.WriteString("version", set.Version);
                json.WriteStartArray("resources");
                foreach (var resource in set.Resources.Values)
                {
                    json.WriteStartObject();
                    json.WriteString("name", resource.Name);
                    json.WriteString("version", resource.Version);
                    json.WritePropertyName("resource");
                    string rendered;
                    try
                    {
                        rendered = Formatter.Format(resource.AsAny());
                    }
                    catch (InvalidOperationException ex)
                    {
                        // A nested Any of a type outside the registry: show that rather than fail the dump.
                        rendered = JsonSerializer.Serialize(new { error = ex.Message });
                    }
                    json.WriteRawValue(rendered);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
