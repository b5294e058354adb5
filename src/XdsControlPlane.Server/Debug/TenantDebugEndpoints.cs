using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Pipeline;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;

namespace XdsControlPlane.Server.Debug;

/// <summary>Read-only views of the compiled tenants: effective ranges, enforcement state, and the verdict query.</summary>
public static class TenantDebugEndpoints
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // IPAddress (inside CidrRange) cannot be serialised field by field: its ScopeId getter throws for IPv4.
        Converters = { new JsonStringEnumConverter(), new CidrRangeJson(), new IPAddressJson() },
    };

    /// <summary>The views named on <c>/</c> that take no parameters (tests call each one on every example seed).</summary>
    public static IReadOnlyList<string> ParameterlessViews { get; } =
        ["/", "/debug/tenants", "/debug/diagnostics", "/debug/seed", "/debug/syncz", "/debug/config_dump", "/debug/source", "/debug/memory"];

    public static IEndpointRouteBuilder MapTenantDebugEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", () => Results.Json(new
        {
            Endpoints = new[]
            {
                "/debug/tenants", "/debug/tenants/{id}", "/debug/allow?tenant=X&ip=A", "/debug/diagnostics", "/debug/seed",
                "/debug/syncz", "/debug/config_dump", "/debug/source", "/debug/memory",
            },
            MetricsListener = new[] { "/metrics", "/healthz", "/readyz" },
        }, Json));

        endpoints.MapGet("/debug/tenants", (ConfigPipeline pipeline) => pipeline.Current is { } current
            ? Results.Json(new { SnapshotVersion = current.Snapshot.Version, Tenants = current.Reports }, Json)
            : NothingApplied(pipeline));

        endpoints.MapGet("/debug/tenants/{id}", (string id, ConfigPipeline pipeline) =>
            pipeline.Current?.GetReport(id) is { } report ? Results.Json(report, Json)
                : Results.Json(new { Error = $"no tenant '{id}' is served; see /debug/tenants and /debug/diagnostics" }, Json, statusCode: 404));

        endpoints.MapGet("/debug/seed", (ConfigPipeline pipeline) => pipeline.Current is { } current
            ? Results.Json(current.Model.Seed with { }, Json)
            : NothingApplied(pipeline));

        endpoints.MapGet("/debug/diagnostics", (ConfigPipeline pipeline) =>
            Results.Json(new { pipeline.LastApplied, Diagnostics = pipeline.Diagnostics }, Json));

        endpoints.MapGet("/debug/allow", (string? tenant, string? ip, ConfigPipeline pipeline) =>
        {
            if (string.IsNullOrEmpty(tenant) || string.IsNullOrEmpty(ip))
            {
                return Results.Json(new { Error = "usage: /debug/allow?tenant=<cluster id>&ip=<address>" }, Json, statusCode: 400);
            }
            if (!IPAddress.TryParse(ip, out var address) || ip.Contains('%', StringComparison.Ordinal))
            {
                return Results.Json(new { Error = $"'{ip}' is not an IPv4 or IPv6 address" }, Json, statusCode: 400);
            }
            if (pipeline.Current is not { } current || current.GetReport(tenant) is not { } report)
            {
                return Results.Json(new { Error = $"no tenant '{tenant}' is served; see /debug/tenants" }, Json, statusCode: 404);
            }
            return Results.Json(Verdict(report, address, current.Model.Seed), Json);
        });
        return endpoints;
    }

    /// <summary>
    /// Answers with the CIDR trie: does the list admit the address, by which original range(s), and is that what Envoy
    /// enforces? With PROXY protocol the address is the client's: the PROXY header's for a connection relayed by a
    /// trusted load balancer, the peer's for any other (RBAC judges each by that address alone), which the note says.
    /// </summary>
    public static AllowVerdict Verdict(TenantReport report, IPAddress address, SeedSettings seed)
    {
        var match = report.Ranges.Match(address);
        var listAllows = report.Enforcement switch
        {
            Enforcement.Unrestricted or Enforcement.NotApplicable => true,
            _ => match.IsMatch,
        };
        var served = report.Enforcement switch
        {
            Enforcement.EnforcedDirect or Enforcement.EnforcedProxyProtocol => match.IsMatch,
            Enforcement.NotEnforceableDenyAll => false,
            _ => true,
        };
        string? note = null;
        if (seed.ProxyProtocol && report.Enforcement is Enforcement.EnforcedProxyProtocol or Enforcement.DryRun)
        {
            note = CidrSet.Build(seed.ProxyProtocolTrustedRanges).Contains(address)
                ? $"{address} is a trusted load balancer address: a connection from it is judged by its PROXY header's address alone " +
                  "(ask about that address); only a header-less connection from it (its own health check) is judged by this verdict"
                : $"the verdict for a client at {address}, relayed by the load balancer (judged by the PROXY header) or connecting directly " +
                  "(judged by its own address; a PROXY header from a peer outside the trusted load balancer ranges is not believed)";
        }
        return new AllowVerdict(report.Id, address.ToString(), served, listAllows,
            match.MatchedRanges.Select(r => r.ToString()).ToList(), report.Enforcement,
            report.Enforcement is Enforcement.EnforcedDirect or Enforcement.EnforcedProxyProtocol or Enforcement.NotEnforceableDenyAll,
            report.Reason)
        {
            Note = note,
        };
    }

    private static IResult NothingApplied(ConfigPipeline pipeline) =>
        Results.Json(new { Error = "no configuration has been applied yet", pipeline.Diagnostics }, Json, statusCode: 503);
}
