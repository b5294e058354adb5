using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Translation;
using YamlDotNet.Core;

namespace XdsControlPlane.Sources.Tests.Folder;

/// <summary>The new manifest reader against the one it replaced (KubernetesYaml), object for object.</summary>
public sealed class ManifestReaderTests
{
    private static readonly string Examples = Path.Combine(RepositoryRoot(), "envoy-config", "examples");

    public static TheoryData<string> ExampleFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Examples, "*.yaml", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(Examples, file));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void ExampleSeedFile_ReadsToTheSameObjectsAsTheOldReader(string file)
    {
        var yaml = File.ReadAllText(Path.Combine(Examples, file));
        AssertSameObjects(LegacyFolderLoader.ParseManifests(yaml), ManifestReader.Read(yaml));
    }

    [Fact]
    public void GeneratedFolder_ReadsToTheSameInventoryAsTheOldReader()
    {
        using var folder = new TempFolder();
        SyntheticFolder.Write(folder.Path, tenants: 150);
        var before = LegacyFolderLoader.Load(folder.Path);
        var after = new FolderSource(folder.Path, NullLogger<FolderSource>.Instance).Load().Inventory;

        Assert.NotNull(after);
        Assert.Equal(150, after.Clusters.Count);
        Assert.Equal(150 / 5 * 3 * 2 + 150 / 5 * 2 * 3, after.Services.Count);
        AssertSameObjects(before.Seeds, after.Seeds);
        AssertSameObjects(before.Clusters, after.Clusters);
        AssertSameObjects(before.Services, after.Services);
        AssertSameObjects(before.EndpointSlices, after.EndpointSlices);
        // And the generated folder is a seed the translation takes whole: every tenant, none failed.
        var translated = InventoryTranslator.Translate(after);
        Assert.Equal(150, translated.Tenants.Count);
        Assert.Empty(translated.FailedTenants);
        Assert.Equal(InventoryTranslator.Translate(before).Tenants, translated.Tenants);
    }

    /// <summary>YAML that is legal but unusual in manifests: each construct reads as KubernetesYaml read it.</summary>
    [Theory]
    [InlineData("plain scalars typed as strings", """
        apiVersion: kubermatic.k8c.io/v1
        kind: Cluster
        metadata: {name: c1, labels: {version: 1.30, enabled: true, count: 12, empty: "", tilde: "~", octal: 0o17, hex: 0x1F}}
        spec:
          humanReadableName: 42
          exposeStrategy: Tunneling
          apiServerAllowedIPRanges: {cidrBlocks: [10.0.0.0/8, "2001:db8::/32"]}
        """)]
    [InlineData("quoted numbers and capitalised booleans", """
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: {name: s1, namespace: n1, labels: {kubernetes.io/service-name: svc}}
        addressType: IPv4
        ports: [{name: secure, port: "6443", protocol: TCP}]
        endpoints:
        - addresses: ["10.0.0.1"]
          conditions: {ready: True, serving: "false"}
        """)]
    [InlineData("block scalars, comments, explicit document end", """
        # leading comment
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: svc
          namespace: n1
          annotations:
            note: |
              two
              lines
            folded: >
              one
              line
            nodeport-proxy.k8s.io/port-mapping: '{"secure":"a.example.com"}'
        spec:
          type: NodePort
          ports:
          - {name: secure, port: 443, targetPort: secure, nodePort: 30001}
          - {name: other, port: 80, targetPort: 8080}
        ...
        ---
        # only a comment
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: skipped}
        """)]
    [InlineData("anchors, aliases and merge keys", """
        apiVersion: v1
        kind: Service
        metadata:
          name: svc
          namespace: n1
          labels: &labels {app: a, tier: web}
          annotations:
            <<: *labels
            tier: overridden
            extra: x
        spec:
          type: NodePort
          ports:
          - &port {name: secure, port: 443, nodePort: 30001}
          - *port
        """)]
    [InlineData("JSON is YAML", """
        {"apiVersion": "kubermatic.k8c.io/v1", "kind": "Seed", "metadata": {"name": "s", "namespace": "kubermatic"},
         "spec": {"defaultAPIServerAllowedIPRanges": ["192.0.2.0/28"], "seedDNSOverwrite": null}}
        """)]
    [InlineData("timestamps, quoted and plain", """
        apiVersion: v1
        kind: Service
        metadata: {name: a, namespace: n, creationTimestamp: "2024-03-01T10:00:00Z"}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: b, namespace: n, creationTimestamp: 2024-03-01T10:00:00.123456Z}
        """)]
    public void UnusualYaml_ReadsAsTheOldReaderReadIt(string what, string yaml)
    {
        Assert.False(string.IsNullOrEmpty(what));
        AssertSameObjects(LegacyFolderLoader.ParseManifests(yaml), ManifestReader.Read(yaml));
    }

    [Fact]
    public void PlainScalars_KeepTheirTextInStringFields()
    {
        var cluster = Assert.IsType<KkpCluster>(Assert.Single(ManifestReader.Read("""
            apiVersion: kubermatic.k8c.io/v1
            kind: Cluster
            metadata: {name: c1, labels: {version: 1.30, enabled: true, big: 1e3}}
            spec: {humanReadableName: 007}
            """)));
        Assert.Equal("1.30", cluster.Metadata.Labels["version"]);
        Assert.Equal("true", cluster.Metadata.Labels["enabled"]);
        Assert.Equal("1e3", cluster.Metadata.Labels["big"]);
        Assert.Equal("007", cluster.Spec!.HumanReadableName);
    }

    [Fact]
    public void KkpFieldsTheOldReaderDropped_AreReadAsTheApiServerSourceReadsThem()
    {
        // KubernetesYaml mapped JSON names only for the client's own types: on the KKP types it looked for
        // "datacenterName" and "seedDnsOverwrite" (not "dc" and "seedDNSOverwrite"), and it never filled the
        // provider blocks (JSON extension data). Read as JSON, the folder's objects are the watch's objects.
        const string cluster = """
            apiVersion: kubermatic.k8c.io/v1
            kind: Cluster
            metadata: {name: c1}
            spec: {cloud: {dc: fsn, hetzner: {datacenter: fsn1, token: ""}}}
            """;
        const string seed = """
            apiVersion: kubermatic.k8c.io/v1
            kind: Seed
            metadata: {name: s1}
            spec: {seedDNSOverwrite: seed.example.com}
            """;
        var fromFile = Assert.IsType<KkpCluster>(Assert.Single(ManifestReader.Read(cluster)));
        var fromJson = KubernetesJson.Deserialize<KkpCluster>("""{"apiVersion":"kubermatic.k8c.io/v1","kind":"Cluster","metadata":{"name":"c1"},"spec":{"cloud":{"dc":"fsn","hetzner":{"datacenter":"fsn1","token":""}}}}""");
        Assert.Equal(KubernetesJson.Serialize(fromJson), KubernetesJson.Serialize(fromFile));
        Assert.Equal("fsn", fromFile.Spec!.Cloud!.DatacenterName);
        Assert.Equal("fsn1", fromFile.Spec.Cloud.ProviderBlocks!["hetzner"].GetProperty("datacenter").GetString());
        Assert.Equal("seed.example.com", Assert.IsType<KkpSeed>(Assert.Single(ManifestReader.Read(seed))).Spec!.SeedDnsOverwrite);

        var old = Assert.IsType<KkpCluster>(Assert.Single(LegacyFolderLoader.ParseManifests(cluster)));
        Assert.Null(old.Spec!.Cloud!.DatacenterName);
        Assert.Null(old.Spec.Cloud.ProviderBlocks);
    }

    [Fact]
    public void DocumentWithoutKind_IsRefused()
    {
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read("apiVersion: v1\nmetadata: {name: x}\n"));
        Assert.Contains("no apiVersion or kind", e.Message);
    }

    [Fact]
    public void DocumentThatIsNotAMapping_IsRefused()
    {
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read("apiVersion: v1\nkind: Service\n---\n- a\n- b\n"));
        Assert.Contains("line 3", e.Message);
        Assert.Contains("not a mapping", e.Message);
    }

    [Fact]
    public void WrongValueType_NamesTheObjectAndTheField()
    {
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read("""
            apiVersion: v1
            kind: Service
            metadata: {name: svc, namespace: n1}
            spec:
              ports:
              - {name: secure, port: not-a-number}
            """));
        Assert.Contains("Service n1/svc", e.Message);
        Assert.Contains("spec.ports[0].port", e.Message);
    }

    [Fact]
    public void UnreadableTimestamp_NamesTheObject()
    {
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read("""
            apiVersion: v1
            kind: Service
            metadata: {name: svc, namespace: n1, creationTimestamp: "yesterday"}
            """));
        Assert.Contains("Service n1/svc (line 1)", e.Message);
        Assert.Contains("yesterday", e.Message);
    }

    [Fact]
    public void SyntaxError_InASkippedKind_IsStillReported()
    {
        var e = Assert.ThrowsAny<YamlException>(() => ManifestReader.Read("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: [unclosed
            """));
        Assert.True(e.Start.Line >= 3);
    }

    [Fact]
    public void AliasExpansionBomb_IsRefused()
    {
        var lines = new List<string> { "apiVersion: v1", "kind: Service", "metadata:", "  name: x", "  annotations:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
        for (var i = 1; i < 9; i++)
        {
            lines.Add($"    a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]");
        }
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read(string.Join('\n', lines)));
        Assert.Contains("aliases expand", e.Message);
    }

    [Theory]
    [InlineData("&a [x, *a]")]
    [InlineData("&m {x: 1, y: {<<: *m}}")]
    public void AliasOfTheNodeItIsIn_IsRefused(string value)
    {
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read($"apiVersion: v1\nkind: Service\nmetadata: {{name: x}}\nspec: {value}\n"));
        Assert.Contains("names no anchor before it", e.Message);
    }

    [Fact]
    public void NestingDeeperThanAnyObject_IsRefused()
    {
        var yaml = $"apiVersion: v1\nkind: Service\nmetadata: {{name: x}}\nspec: {new string('[', 5000)}{new string(']', 5000)}\n";
        var e = Assert.Throws<FormatException>(() => ManifestReader.Read(yaml));
        Assert.Contains("nested deeper than", e.Message);
    }

    [Theory]
    [InlineData("0", true)]
    [InlineData("-12.5e+3", true)]
    [InlineData("30001", true)]
    [InlineData("007", false)]
    [InlineData("1.", false)]
    [InlineData("0x1F", false)]
    [InlineData("1_000", false)]
    [InlineData("+1", false)]
    [InlineData(".5", false)]
    [InlineData("1e", false)]
    public void JsonNumbers_AreRecognisedByJsonsGrammar(string text, bool isNumber) =>
        Assert.Equal(isNumber, ManifestReader.IsJsonNumber(text));

    internal static void AssertSameObjects<T>(IReadOnlyList<T> expected, IReadOnlyList<T> actual)
        where T : notnull
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].GetType(), actual[i].GetType());
            Assert.Equal(Comparable(expected[i]), Comparable(actual[i]));
        }
    }

    /// <summary>
    /// The object as the client's JSON writes it, without the three KKP fields the old reader never filled (see
    /// <see cref="KkpFieldsTheOldReaderDropped_AreReadAsTheApiServerSourceReadsThem"/>).
    /// </summary>
    private static string Comparable(object obj)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(KubernetesJson.Serialize(obj))!.AsObject();
        if (json["spec"] is System.Text.Json.Nodes.JsonObject spec)
        {
            spec.Remove("seedDNSOverwrite");
            if (spec["cloud"] is System.Text.Json.Nodes.JsonObject cloud)
            {
                foreach (var key in cloud.Select(p => p.Key).Where(k => k != "providerName").ToList())
                {
                    cloud.Remove(key);
                }
            }
        }
        return json.ToJsonString();
    }

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "XdsControlPlane.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}

/// <summary>A folder under the temp directory, deleted afterwards.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("xds-folder-test-").FullName;

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
