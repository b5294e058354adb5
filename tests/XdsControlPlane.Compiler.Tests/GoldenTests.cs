using System.Text.Json;
using System.Text.Json.Nodes;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// Input manifests in, canonical Envoy JSON out, one folder per case under Golden/. Review a change to an
/// expected.json like code. To regenerate after an intended change: UPDATE_GOLDEN=1 dotnet test (then diff).
/// </summary>
public sealed class GoldenTests
{
    private static readonly string SourceRoot = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../Golden"));

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "Golden")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(dir));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CompiledOutputMatchesGoldenFile(string name)
    {
        var pipeline = new TestPipeline();
        var outcome = pipeline.ApplyFolder(Path.Combine(AppContext.BaseDirectory, "Golden", name));
        var actual = Render(outcome);
        var expectedPath = Path.Combine(SourceRoot, name, "expected.json");
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(expectedPath, actual);
        }
        Assert.True(File.Exists(expectedPath), $"no {expectedPath}; run with UPDATE_GOLDEN=1 and review the result");
        Assert.Equal(File.ReadAllText(expectedPath), actual);
    }

    public static string Render(ApplyOutcome outcome)
    {
        var root = new JsonObject
        {
            ["applied"] = outcome.Applied,
            ["rejectedBecause"] = outcome.RejectedBecause,
            ["diagnostics"] = new JsonArray(outcome.Diagnostics.Select(d => (JsonNode)JsonValue.Create($"{d.Severity} {d.Code} {d}")!).ToArray()),
        };
        if (outcome.Applied && outcome.Current is { } compiled)
        {
            root["tenants"] = JsonSerializer.SerializeToNode(compiled.Reports.ToList(), ReportJson);
            var resources = new JsonObject();
            foreach (var typeUrl in TypeUrls.PushOrder)
            {
                var set = compiled.Snapshot.Get(typeUrl);
                var byName = new JsonObject();
                foreach (var (resourceName, resource) in set.Resources)
                {
                    byName[resourceName] = JsonNode.Parse(EnvoyJson.Format(resource.Message, indented: false));
                }
                resources[typeUrl[TypeUrls.Prefix.Length..]] = byName;
            }
            root["resources"] = resources;
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
    }

    private static readonly JsonSerializerOptions ReportJson = new()
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };
}
