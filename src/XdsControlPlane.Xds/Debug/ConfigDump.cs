using System.Text;
using System.Text.Json;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Xds.Debug;

/// <summary>Renders a snapshot as Envoy-style JSON (proto3 JSON mapping, <c>@type</c> on every Any).</summary>
public static class ConfigDump
{
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
                        rendered = EnvoyJson.Format(resource.AsAny());
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
