using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace XdsControlPlane.Server.Hosting;

/// <summary>The health answer as JSON: overall status, then each check's status and description.</summary>
public static class HealthResponse
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            Status = report.Status.ToString(),
            Checks = report.Entries.ToDictionary(e => e.Key, e => new { Status = e.Value.Status.ToString(), e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, Json));
    }
}
