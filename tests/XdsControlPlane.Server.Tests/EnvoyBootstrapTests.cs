using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Envoy.Config.Bootstrap.V3;
using Envoy.Extensions.TransportSockets.Tls.V3;
using Envoy.Extensions.Upstreams.Http.V3;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using YamlDotNet.RepresentationModel;

namespace XdsControlPlane.Server.Tests;

/// <summary>
/// The bootstraps in envoy-config/ read as Envoy's own Bootstrap message, strictly (no unknown field, every
/// <c>@type</c> known): a misspelt field or a wrong nesting fails here instead of in an Envoy pod.
/// </summary>
public sealed class EnvoyBootstrapTests
{
    private static readonly string ConfigFolder = Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config");

    private static readonly JsonParser Strict = new(JsonParser.Settings.Default
        .WithIgnoreUnknownFields(false)
        .WithTypeRegistry(TypeRegistry.FromMessages(UpstreamTlsContext.Descriptor, HttpProtocolOptions.Descriptor)));

    [Theory]
    [InlineData("envoy-ads.yaml")]
    [InlineData("envoy-kkp.yaml")]
    [InlineData("envoy-ads-mtls.yaml")]
    public void TheBootstrapIsAValidEnvoyBootstrap(string file)
    {
        var bootstrap = Read(file);
        Assert.Equal("kube", bootstrap.Node.Id);
        Assert.Contains(bootstrap.StaticResources.Clusters, c => c.Name == "xds_cluster");
    }

    [Fact]
    public void TheMtlsBootstrap_PresentsAClientCertificate_AndChecksTheServerAgainstTheCa()
    {
        var xds = Read("envoy-ads-mtls.yaml").StaticResources.Clusters.Single(c => c.Name == "xds_cluster");
        Assert.Equal("envoy.transport_sockets.tls", xds.TransportSocket.Name);
        var tls = xds.TransportSocket.TypedConfig.Unpack<UpstreamTlsContext>();
        Assert.NotEmpty(tls.Sni);
        var common = tls.CommonTlsContext;
        Assert.Equal(["h2"], common.AlpnProtocols);
        var certificate = Assert.Single(common.TlsCertificates);
        Assert.NotEmpty(certificate.CertificateChain.Filename);
        Assert.NotEmpty(certificate.PrivateKey.Filename);
        Assert.NotEmpty(common.ValidationContext.TrustedCa.Filename);
        // The server's name is checked, and it is the name dialled and sent as SNI.
        var san = Assert.Single(common.ValidationContext.MatchTypedSubjectAltNames);
        Assert.Equal(tls.Sni, san.Matcher.Exact);
        Assert.Equal(tls.Sni, xds.LoadAssignment.Endpoints[0].LbEndpoints[0].Endpoint.Address.SocketAddress.Address);
        // gRPC needs HTTP/2 on the upstream connection.
        var http = xds.TypedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].Unpack<HttpProtocolOptions>();
        Assert.NotNull(http.ExplicitHttpConfig.Http2ProtocolOptions);
    }

    private static Bootstrap Read(string file) => ParseStrict(File.ReadAllText(Path.Combine(ConfigFolder, file)));

    /// <summary>A bootstrap's YAML text as Envoy's Bootstrap message, strictly (also used for the real-Envoy test's rewrite).</summary>
    internal static Bootstrap ParseStrict(string text)
    {
        var yaml = new YamlStream();
        yaml.Load(new StringReader(text));
        var json = ToJson(yaml.Documents[0].RootNode)!.ToJsonString();
        return Strict.Parse<Bootstrap>(json);
    }

    /// <summary>YAML to JSON, with plain scalars typed as YAML 1.2's core schema types them (bool, number, string).</summary>
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(kv =>
            KeyValuePair.Create(((YamlScalarNode)kv.Key).Value!, ToJson(kv.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(ToJson)]),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" } scalar => JsonValue.Create(scalar.Value == "true"),
        YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } scalar when long.TryParse(scalar.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
        YamlScalarNode scalar => JsonValue.Create(scalar.Value),
        _ => throw new JsonException($"unexpected YAML node {node.NodeType}"),
    };
}
