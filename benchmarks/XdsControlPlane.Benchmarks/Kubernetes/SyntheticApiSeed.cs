using k8s.Models;
using XdsControlPlane.Benchmarks.Folder;
using XdsControlPlane.Sources.Folder;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Tests.KubernetesWatch;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>
/// The folder benchmarks' synthetic seed (<see cref="SyntheticFolder"/>: 60% Tunneling tenants with two SNI Services,
/// 40% NodePort with three node ports, 20 ranges each, a quarter IPv6, one EndpointSlice per Service) on the API-server
/// stand-in: the same objects, read from the same manifests, so the two sources' figures compare. 10,000 tenants are
/// 1 Seed, 10,000 Clusters, 24,000 Services and 24,000 EndpointSlices.
/// </summary>
internal static class SyntheticApiSeed
{
    public static async Task<FakeApiServer> StartAsync(int tenants, int rangesPerTenant = 20, int seed = 42)
    {
        var server = await FakeApiServer.StartAsync();
        foreach (var obj in ManifestReader.Read(SyntheticFolder.SeedManifest()))
        {
            server.Upsert(ResourceOf(obj), obj, silently: true);
        }
        var random = new Random(seed);
        for (var i = 0; i < tenants; i++)
        {
            foreach (var obj in ManifestReader.Read(SyntheticFolder.TenantManifests(i, SyntheticFolder.RandomRanges(random, rangesPerTenant))))
            {
                server.Upsert(ResourceOf(obj), obj, silently: true);
            }
        }
        return server;
    }

    /// <summary>Tenant <paramref name="i"/>'s Cluster with another allowlist (what a KKP user's edit changes).</summary>
    public static KkpCluster Cluster(int i, IReadOnlyList<string> ranges)
    {
        var cluster = (KkpCluster)ManifestReader.Read(SyntheticFolder.TenantManifests(i, ranges))[0];
        return cluster;
    }

    public static string ResourceOf(object obj) => obj switch
    {
        KkpSeed => "seeds",
        KkpCluster => "clusters",
        V1Service => "services",
        V1EndpointSlice => "endpointslices",
        _ => throw new ArgumentException($"not a kind the seed holds: {obj.GetType().Name}", nameof(obj)),
    };
}
