using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using XdsControlPlane.Snapshots;
using HealthCheck = Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheck;
using Hcm = Envoy.Extensions.Filters.Network.HttpConnectionManager.V3.HttpConnectionManager;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// The stats listener (0.0.0.0:8002) reaches Envoy's admin only with GET of exact read-only paths: the admin's
/// mutating endpoints are reachable by no method and no path. Requests are routed here by Envoy's documented
/// rules (first route whose match holds; <c>path</c> is exact after the query string; every header matcher must
/// hold), read from the compiled listener.
/// </summary>
public sealed class StatsListenerTests
{
    private const string Yaml = """
        apiVersion: kubermatic.k8c.io/v1
        kind: Seed
        metadata: {name: s, annotations: {nodeport-proxy.k8s.io/cloud-provider: aws}}
        spec: {}
        """;

    public enum Outcome
    {
        HealthCheck,
        Admin,
        Refused,
    }

    [Theory]
    [InlineData("GET", "/healthz", Outcome.HealthCheck)]
    [InlineData("GET", "/ready", Outcome.Admin)]
    [InlineData("GET", "/stats", Outcome.Admin)]
    [InlineData("GET", "/stats?format=json&filter=tenant", Outcome.Admin)]
    [InlineData("GET", "/stats/prometheus", Outcome.Admin)]
    [InlineData("POST", "/healthz", Outcome.Refused)]
    [InlineData("POST", "/stats", Outcome.Refused)]
    [InlineData("PUT", "/stats/prometheus", Outcome.Refused)]
    [InlineData("POST", "/ready", Outcome.Refused)]
    [InlineData("POST", "/quitquitquit", Outcome.Refused)]
    [InlineData("GET", "/quitquitquit", Outcome.Refused)]
    [InlineData("POST", "/drain_listeners", Outcome.Refused)]
    [InlineData("POST", "/runtime_modify?a=b", Outcome.Refused)]
    [InlineData("POST", "/logging?level=trace", Outcome.Refused)]
    [InlineData("POST", "/healthcheck/fail", Outcome.Refused)]
    [InlineData("POST", "/reset_counters", Outcome.Refused)]
    [InlineData("GET", "/config_dump", Outcome.Refused)]
    [InlineData("GET", "/stats/recentlookups", Outcome.Refused)]
    [InlineData("POST", "/stats/recentlookups/enable", Outcome.Refused)]
    [InlineData("GET", "/statsx", Outcome.Refused)]
    [InlineData("GET", "/stats/../quitquitquit", Outcome.Refused)]
    [InlineData("GET", "/STATS", Outcome.Refused)]
    public void OnlyGetOfExactReadOnlyPathsReachTheAdmin(string method, string path, Outcome expected)
    {
        var snapshot = TestPipeline.Compile(Yaml).Snapshot;
        var listener = Assert.IsType<Listener>(snapshot.Get(TypeUrls.Listener).Resources["service_stats"].Message);
        var hcm = listener.FilterChains.Single().Filters.Single().TypedConfig.Unpack<Hcm>();
        Assert.Equal(expected, Serve(hcm, method, path));
    }

    [Fact]
    public void EveryForwardingRouteIsAnExactPathForGetOnly()
    {
        var snapshot = TestPipeline.Compile(Yaml).Snapshot;
        var listener = Assert.IsType<Listener>(snapshot.Get(TypeUrls.Listener).Resources["service_stats"].Message);
        var hcm = listener.FilterChains.Single().Filters.Single().TypedConfig.Unpack<Hcm>();
        var routes = hcm.RouteConfig.VirtualHosts.Single().Routes;
        foreach (var route in routes.Where(r => r.ActionCase == Route.ActionOneofCase.Route_))
        {
            Assert.Equal(RouteMatch.PathSpecifierOneofCase.Path, route.Match.PathSpecifierCase);
            Assert.Contains(route.Match.Path, new[] { "/ready", "/stats", "/stats/prometheus" });
            Assert.Contains(route.Match.Headers, h => h.Name == ":method" && h.StringMatch.Exact == "GET" && !h.InvertMatch);
        }
        Assert.Equal(3, routes.Count(r => r.ActionCase == Route.ActionOneofCase.Route_));
        var last = routes.Last();
        Assert.Equal("/", last.Match.Prefix);
        Assert.Equal(404u, last.DirectResponse.Status);
    }

    /// <summary>The health check filter first (it answers without routing when all its headers match), then the first matching route.</summary>
    private static Outcome Serve(Hcm hcm, string method, string pathAndQuery)
    {
        var headers = new Dictionary<string, string> { [":method"] = method, [":path"] = pathAndQuery };
        var healthCheck = hcm.HttpFilters.Single(f => f.TypedConfig.TypeUrl.EndsWith("health_check.v3.HealthCheck", StringComparison.Ordinal))
            .TypedConfig.Unpack<HealthCheck>();
        Assert.False(healthCheck.PassThroughMode);
        if (healthCheck.Headers.All(h => HeaderMatches(h, headers)))
        {
            return Outcome.HealthCheck;
        }
        var path = pathAndQuery.Split('?')[0];
        foreach (var route in hcm.RouteConfig.VirtualHosts.Single(v => v.Domains.Contains("*")).Routes)
        {
            var match = route.Match;
            Assert.True(match.CaseSensitive is null or true);
            var pathMatches = match.PathSpecifierCase switch
            {
                RouteMatch.PathSpecifierOneofCase.Path => path == match.Path,
                RouteMatch.PathSpecifierOneofCase.Prefix => pathAndQuery.StartsWith(match.Prefix, StringComparison.Ordinal),
                _ => throw new NotSupportedException($"route match {match.PathSpecifierCase} is not modelled"),
            };
            if (!pathMatches || !match.Headers.All(h => HeaderMatches(h, headers)) || match.QueryParameters.Count > 0)
            {
                continue;
            }
            return route.ActionCase switch
            {
                Route.ActionOneofCase.Route_ when route.Route_.Cluster == "service_stats" => Outcome.Admin,
                Route.ActionOneofCase.DirectResponse when route.DirectResponse.Status is 403 or 404 or 405 => Outcome.Refused,
                _ => throw new NotSupportedException($"route action {route.ActionCase}"),
            };
        }
        return Outcome.Refused; // no route: Envoy answers 404
    }

    private static bool HeaderMatches(Envoy.Config.Route.V3.HeaderMatcher matcher, Dictionary<string, string> headers)
    {
        if (matcher.HeaderMatchSpecifierCase != Envoy.Config.Route.V3.HeaderMatcher.HeaderMatchSpecifierOneofCase.StringMatch
            || matcher.StringMatch.MatchPatternCase != Envoy.Type.Matcher.V3.StringMatcher.MatchPatternOneofCase.Exact || matcher.StringMatch.IgnoreCase)
        {
            throw new NotSupportedException($"header matcher {matcher} is not modelled");
        }
        // A header matcher compares the whole value (for :path, query string included).
        return (headers.GetValueOrDefault(matcher.Name) == matcher.StringMatch.Exact) != matcher.InvertMatch;
    }
}
