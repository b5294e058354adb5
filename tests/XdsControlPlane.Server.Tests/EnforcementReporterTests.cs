using Microsoft.Extensions.Logging;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Server.Hosting;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Tests.KubernetesWatch;
using XdsControlPlane.Sources.Translation;
using Xunit.Abstractions;

namespace XdsControlPlane.Server.Tests;

/// <summary>Enforcement is logged when it changes, not on every snapshot, and exported per state and per tenant.</summary>
public sealed class EnforcementReporterTests(ITestOutputHelper output)
{
    private const string Tenant =
        "---\napiVersion: kubermatic.k8c.io/v1\nkind: Cluster\nmetadata: {name: t}\nspec:\n  exposeStrategy: Tunneling\n  apiServerAllowedIPRanges: {cidrBlocks: [\"203.0.113.0/24\"]}\n" +
        "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: apiserver-external\n  namespace: cluster-t\n  annotations:\n    nodeport-proxy.k8s.io/expose: SNI\n" +
        "    nodeport-proxy.k8s.io/port-mapping: '{\"secure\":\"t.example.com\"}'\nspec:\n  type: NodePort\n  ports: [{name: secure, port: 443, targetPort: 6443, protocol: TCP, nodePort: 30443}]\n";

    private static string Seed(string provider, string defaults = "") =>
        $"apiVersion: kubermatic.k8c.io/v1\nkind: Seed\nmetadata: {{name: s, namespace: kubermatic, annotations: {{nodeport-proxy.k8s.io/cloud-provider: {provider}}}}}\n" +
        $"spec: {{defaultAPIServerAllowedIPRanges: [{defaults}]}}\n";

    [Fact]
    public async Task NotEnforcedIsLoggedOnceWhenItStartsAndOnceWhenItEnds_AndExported()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var logger = new RecordingLogger(output);
        ConfigPipeline pipeline = null!;
        var reporter = new EnforcementReporter(registry, new TypedLogger(logger), () => pipeline.Diagnostics);
        pipeline = new ConfigPipeline(s => SnapshotConsistency.Check(s), Microsoft.Extensions.Logging.Abstractions.NullLogger<ConfigPipeline>.Instance)
        {
            Applied = reporter.OnApplied,
        };
        void Apply(string yaml)
        {
            var objects = FolderSource.ParseManifests(yaml);
            var result = InventoryTranslator.Translate(new SeedInventory(objects.OfType<KkpSeed>().ToList(), objects.OfType<KkpCluster>().ToList(),
                objects.OfType<k8s.Models.V1Service>().ToList(), []));
            Assert.True(pipeline.Apply(new PipelineInput(result.Seed, result.Tenants, result.FailedTenants, result.Diagnostics)).Applied);
        }

        Apply(Seed("hetzner") + Tenant);
        Apply(Seed("hetzner", "\"192.0.2.0/28\"") + Tenant); // a new snapshot, the same state: not logged again
        Assert.Equal(1, logger.Count("AllowlistNotEnforced"));
        var warning = logger.Entries.Single(e => e.EventName == "AllowlistNotEnforced");
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("Tenant t", warning.Message, StringComparison.Ordinal);
        Assert.Contains("NotEnforceableOpen", warning.Message, StringComparison.Ordinal);
        Assert.Contains("enable PROXY protocol", warning.Message, StringComparison.Ordinal); // what to do
        var text = await Scrape(registry);
        Assert.Contains("nodeport_proxy_tenants{enforcement=\"NotEnforceableOpen\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("nodeport_proxy_tenant_info{tenant=\"t\",enforcement=\"NotEnforceableOpen\"", text, StringComparison.Ordinal);

        Apply(Seed("aws") + Tenant);
        Assert.Equal(1, logger.Count("AllowlistNotEnforced"));
        Assert.Equal(1, logger.Count("AllowlistEnforcedAgain"));
        text = await Scrape(registry);
        Assert.Contains("nodeport_proxy_tenants{enforcement=\"NotEnforceableOpen\"} 0", text, StringComparison.Ordinal);
        Assert.Contains("nodeport_proxy_tenants{enforcement=\"EnforcedDirect\"} 1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("enforcement=\"NotEnforceableOpen\",reason", text, StringComparison.Ordinal); // the old info series is gone
        Assert.Single(text.Split('\n'), l => l.StartsWith("nodeport_proxy_tenant_info{", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ASnapshotDerivedFromTheLastOneIsReportedByItsChangedTenantsAloneWithTheSameResultAsAFullComparison()
    {
        // The pipeline's incremental compile says which tenants it changed: the reporter looks at those alone. Its
        // logs and metrics must be what comparing every tenant gives (a second reporter, fed only the final
        // compilation, compares every tenant).
        var load = new FolderSource(Path.Combine(AppContext.BaseDirectory, "../../../../../envoy-config/examples/aws-seed"),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<FolderSource>.Instance).Load();
        var translated = InventoryTranslator.Translate(load.Inventory!);
        var tenants = translated.Tenants.ToList();
        Assert.True(tenants.Count >= 3);
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var logger = new RecordingLogger(output);
        ConfigPipeline pipeline = null!;
        var reporter = new EnforcementReporter(registry, new TypedLogger(logger), () => pipeline.Diagnostics);
        var seen = new List<Compiler.Compilation.CompiledSeed>();
        pipeline = new ConfigPipeline(s => SnapshotConsistency.Check(s), Microsoft.Extensions.Logging.Abstractions.NullLogger<ConfigPipeline>.Instance)
        {
            Applied = compiled =>
            {
                seen.Add(compiled);
                reporter.OnApplied(compiled);
            },
        };
        void Apply(IEnumerable<Model.Tenant> next) =>
            Assert.True(pipeline.Apply(new PipelineInput(translated.Seed, next.ToValueList(), new HashSet<string>(), [])).Applied);

        Apply(tenants);
        var (notEnforced, enforcedAgain) = (logger.Count("AllowlistNotEnforced"), logger.Count("AllowlistEnforcedAgain"));
        var dryRun = tenants.First(t => t.Strategy == ExposeStrategy.Tunneling && t.AllowedRanges.Count > 0 && t.AllowlistMode == AllowlistMode.Enforce) with { AllowlistMode = Model.AllowlistMode.DryRun };
        Apply(tenants.Select(t => t.Id == dryRun.Id ? dryRun : t));                      // one tenant no longer enforced
        Assert.True(seen[^1].TryGetChangedSince(seen[^2], out var changed));
        Assert.Equal([dryRun.Id], changed);
        Assert.Equal(notEnforced + 1, logger.Count("AllowlistNotEnforced"));
        var gone = tenants.First(t => t.Strategy == ExposeStrategy.NodePort && t.AllowedRanges.Count > 0 && t.AllowlistMode == AllowlistMode.Enforce); // enforced
        Apply(tenants.Where(t => t.Id != gone.Id).Select(t => t.Id == dryRun.Id ? dryRun : t)); // one tenant gone
        Assert.True(seen[^1].TryGetChangedSince(seen[^2], out changed));
        Assert.Equal([gone.Id], changed);
        Apply(tenants);                                                                   // back: enforced again, the other one back
        Assert.True(seen[^1].TryGetChangedSince(seen[^2], out _));
        Assert.Equal(enforcedAgain + 1, logger.Count("AllowlistEnforcedAgain"));
        Assert.Equal(notEnforced + 1, logger.Count("AllowlistNotEnforced"));

        var fresh = Prometheus.Metrics.NewCustomRegistry();
        new EnforcementReporter(fresh, new TypedLogger(new RecordingLogger(output)), () => pipeline.Diagnostics).OnApplied(seen[^1]);
        static IEnumerable<string> Series(string text) =>
            text.Split('\n').Where(l => l.StartsWith("nodeport_proxy_tenant", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(Series(await Scrape(fresh)), Series(await Scrape(registry)));
        Assert.Contains($"nodeport_proxy_tenants{{enforcement=\"DryRun\"}} {tenants.Count(t => t.AllowlistMode == AllowlistMode.DryRun)}",
            await Scrape(registry), StringComparison.Ordinal); // the example's own dry-run tenant only
        Assert.Equal(tenants.Count, Series(await Scrape(registry)).Count(l => l.StartsWith("nodeport_proxy_tenant_info{", StringComparison.Ordinal)));
    }

    private static async Task<string> Scrape(Prometheus.CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private sealed class TypedLogger(ILogger inner) : ILogger<EnforcementReporter>
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, formatter);
    }
}
