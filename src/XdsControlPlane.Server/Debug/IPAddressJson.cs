using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace XdsControlPlane.Server.Debug;

/// <summary>An address as its text.</summary>
public sealed class IPAddressJson : JsonConverter<IPAddress>
{
    public override IPAddress Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => IPAddress.Parse(reader.GetString()!);

    public override void Write(Utf8JsonWriter writer, IPAddress value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
