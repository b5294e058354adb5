using System.Text.Json;
using System.Text.Json.Serialization;

namespace XdsControlPlane.Server.Debug;

/// <summary>A range as its text (<c>10.0.0.0/8</c>).</summary>
public sealed class CidrRangeJson : JsonConverter<XdsControlPlane.Cidr.CidrRange>
{
    public override XdsControlPlane.Cidr.CidrRange Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        XdsControlPlane.Cidr.CidrRange.Parse(reader.GetString()!);

    public override void Write(Utf8JsonWriter writer, XdsControlPlane.Cidr.CidrRange value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToString());
}
