using System.Diagnostics;
using System.Net.Http;
using k8s;
using k8s.Models;
using XdsControlPlane.Sources.Kubernetes;
using XdsControlPlane.Sources.Kubernetes.Watch;

namespace XdsControlPlane.Benchmarks.KubernetesWatch;

/// <summary>Development probe: where a list of the seed spends its time (HTTP, JSON, the client's blocking read).</summary>
internal static class ListProbe
{
    public static void Run(int tenants)
    {
        var api = SyntheticApiSeed.StartAsync(tenants).GetAwaiter().GetResult();
        var client = api.CreateClient();
        for (var round = 0; round < 3; round++)
        {
            Time("client, 3 resources in parallel", () => Task.WhenAll(
                ListAll(ResourceApis.Clusters(client)), ListAll(ResourceApis.Services(client, null)), ListAll(ResourceApis.EndpointSlices(client, null))).GetAwaiter().GetResult());
            Time("client, services only", () => ListAll(ResourceApis.Services(client, null)).GetAwaiter().GetResult());
            using var http = new HttpClient();
            var pages = new List<byte[]>();
            Time("raw HTTP, services pages", () =>
            {
                string? cont = null;
                do
                {
                    var url = $"{api.Url}/api/v1/services?limit=500" + (cont is null ? "" : $"&continue={Uri.EscapeDataString(cont)}");
                    var bytes = http.GetByteArrayAsync(url).GetAwaiter().GetResult();
                    pages.Add(bytes);
                    cont = KubernetesJson.Deserialize<V1ServiceList>(new MemoryStream(bytes)).Metadata.ContinueProperty;
                }
                while (!string.IsNullOrEmpty(cont));
            });
            Console.WriteLine($"  {pages.Count} pages, {pages.Sum(p => p.Length) / 1e6:F1} MB");
            Time("KubernetesJson from memory, services pages", () =>
            {
                foreach (var page in pages)
                {
                    KubernetesJson.Deserialize<V1ServiceList>(new MemoryStream(page));
                }
            });
        }
    }

    private static async Task<int> ListAll<T>(IResourceApi<T> api)
        where T : IKubernetesObject<V1ObjectMeta>
    {
        var count = 0;
        string? cont = null;
        do
        {
            var page = await api.ListAsync(cont, 500, CancellationToken.None);
            count += page.Items.Count;
            cont = page.Continue;
        }
        while (cont is not null);
        return count;
    }

    private static void Time(string what, Action action)
    {
        var cpu = SourceStack.Cpu();
        var alloc = GC.GetTotalAllocatedBytes();
        var wall = Stopwatch.StartNew();
        action();
        Console.WriteLine($"{what}: wall {wall.ElapsedMilliseconds} ms, CPU {(SourceStack.Cpu() - cpu).TotalMilliseconds:F0} ms, {(GC.GetTotalAllocatedBytes() - alloc) / 1e6:F0} MB allocated");
    }
}
