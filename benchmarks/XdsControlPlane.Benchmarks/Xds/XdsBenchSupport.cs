using System.Globalization;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using XdsControlPlane.Snapshots;

namespace XdsControlPlane.Benchmarks.Xds;

/// <summary>
/// Wraps a resource message and counts how often it is serialised. A snapshot whose resources are wrapped
/// shows whether the server encodes a resource once per snapshot (count = resources) or once per stream
/// (count = resources × streams). Only for types whose messages the server never casts (endpoints).
/// </summary>
internal sealed class CountingMessage(IMessage inner) : IMessage
{
    private static long _writes;

    public static long Writes => Interlocked.Read(ref _writes);

    public static void Reset() => Interlocked.Exchange(ref _writes, 0);

    public MessageDescriptor Descriptor => inner.Descriptor;

    public int CalculateSize() => inner.CalculateSize();

    public void MergeFrom(CodedInputStream input) => throw new NotSupportedException("read-only");

    public void WriteTo(CodedOutputStream output)
    {
        Interlocked.Increment(ref _writes);
        inner.WriteTo(output);
    }

    /// <summary>The snapshot with every endpoint resource wrapped (same names and versions, bytes produced on first use).</summary>
    public static Snapshot WrapEndpoints(Snapshot snapshot) => new(snapshot.ByType.Values.Select(set => set.TypeUrl != TypeUrls.Endpoint
        ? set
        : new ResourceSet(set.TypeUrl, set.Resources.Values.Select(r => new EnvoyResource(r.Name, new CountingMessage(r.Message), r.Version)))));
}

/// <summary>Percentiles of latencies kept as Stopwatch ticks, printed in milliseconds.</summary>
internal static class Latency
{
    public static double Ms(long ticks) => ticks * 1000.0 / System.Diagnostics.Stopwatch.Frequency;

    public static double Percentile(IReadOnlyList<long> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1;
        return Ms(sorted[Math.Clamp(rank, 0, sorted.Count - 1)]);
    }

    public static string Summary(IEnumerable<long> ticks)
    {
        var sorted = ticks.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"n={sorted.Count} p50={Percentile(sorted, 50):F1} ms p99={Percentile(sorted, 99):F1} ms max={Percentile(sorted, 100):F1} ms");
    }
}

/// <summary>Result lines on the console: BenchmarkDotNet echoes the benchmark process's output into its log.</summary>
internal static class BenchReport
{
    public static void Line(string text) => Console.WriteLine($"// XDS-RESULT {text}");
}
