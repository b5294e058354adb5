using System.Collections.Concurrent;
using System.Diagnostics;
using XdsControlPlane.Benchmarks.Xds;
using XdsControlPlane.Compiler.Compilation;

namespace XdsControlPlane.Benchmarks.EndToEnd;

/// <summary>
/// The nodeport-proxy's replicas as the end-to-end benchmarks see them: state-of-the-world ADS streams that ACK every
/// response, and the wait until each has ACKed what a change touched. Shared by the folder and Kubernetes variants.
/// </summary>
internal sealed class AckedReplicas : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, string>[] _acked;
    private readonly SemaphoreSlim _ackSignal = new(0);
    private SotwFleet _fleet = null!;
    private CompiledSeed _served;

    private AckedReplicas(int replicas, CompiledSeed served)
    {
        _acked = [.. Enumerable.Range(0, replicas).Select(_ => new ConcurrentDictionary<string, string>(StringComparer.Ordinal))];
        _served = served;
    }

    /// <summary>Opens <paramref name="replicas"/> streams to <paramref name="address"/>, which serves <paramref name="served"/>.</summary>
    public static async Task<AckedReplicas> ConnectAsync(string address, int replicas, CompiledSeed served)
    {
        var result = new AckedReplicas(replicas, served);
        result._fleet = await SotwFleet.ConnectAsync(address, replicas, (client, index) => client.OnAcked = (response, _) =>
        {
            result._acked[index][response.TypeUrl] = response.VersionInfo;
            result._ackSignal.Release();
        });
        return result;
    }

    /// <summary>Waits until every stream has ACKed, at its new version, every type <paramref name="next"/> changed.</summary>
    /// <param name="what">Names the change in errors.</param>
    public async Task PublishedAsync(CompiledSeed next, string what)
    {
        var targets = AutoAckSotwClient.Types
            .Select(type => (Type: type, Version: next.Snapshot.Get(type).Version))
            .Where(t => t.Version != _served.Snapshot.Get(t.Type).Version)
            .ToList();
        if (targets.Count == 0)
        {
            throw new InvalidOperationException($"{what}: the change touched no resource type, so nothing would be timed");
        }
        _served = next;
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 120;
        while (!_acked.All(acked => targets.All(t => acked.TryGetValue(t.Type, out var v) && v == t.Version)))
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"{what}: the streams did not ACK {string.Join(", ", targets)} within 2 minutes");
            }
            await _ackSignal.WaitAsync(TimeSpan.FromSeconds(1));
        }
    }

    public ValueTask DisposeAsync() => _fleet.DisposeAsync();
}
