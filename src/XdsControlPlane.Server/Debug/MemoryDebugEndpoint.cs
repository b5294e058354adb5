using System.Globalization;
using System.Runtime;

namespace XdsControlPlane.Server.Debug;

/// <summary>
/// <c>/debug/memory</c>: where the process's resident memory is, as the runtime sees it, without a debugger or
/// dotnet-counters in the (chiselled) image. It collects nothing itself: the figures are those of the last
/// collection, so reading it does not change what it reports.
/// </summary>
public static class MemoryDebugEndpoint
{
    public static IEndpointRouteBuilder MapMemoryDebugEndpoint(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/debug/memory", () => Results.Json(Read()));
        return endpoints;
    }

    public static MemoryView Read()
    {
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        var status = ProcStatus();
        var settings = GC.GetConfigurationVariables();
        return new MemoryView(
            ResidentBytes: status.GetValueOrDefault("VmRSS", Environment.WorkingSet),
            PeakResidentBytes: status.GetValueOrDefault("VmHWM", 0),
            ManagedHeapBytes: info.HeapSizeBytes,
            ManagedFragmentedBytes: info.FragmentedBytes,
            ManagedCommittedBytes: info.TotalCommittedBytes,
            ManagedLiveBytesAtLastCollection: info.HeapSizeBytes - info.FragmentedBytes,
            HeapHardLimitBytes: info.TotalAvailableMemoryBytes,
            AllocatedSinceStartBytes: GC.GetTotalAllocatedBytes(precise: false),
            Collections: [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)],
            PauseTimePercentage: info.PauseTimePercentage,
            ServerGc: GCSettings.IsServerGC,
            LatencyMode: GCSettings.LatencyMode.ToString(),
            Gc: settings.ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture) ?? ""));
    }

    /// <summary>VmRSS and VmHWM (bytes) from /proc/self/status; empty where there is none (not Linux).</summary>
    private static Dictionary<string, long> ProcStatus()
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                // "VmRSS:     123456 kB"
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal) || line.StartsWith("VmHWM:", StringComparison.Ordinal))
                {
                    var parts = line.Split([' ', '\t', ':'], StringSplitOptions.RemoveEmptyEntries);
                    values[parts[0]] = long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return values;
    }
}
