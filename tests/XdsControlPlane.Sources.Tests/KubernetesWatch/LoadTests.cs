using System.Diagnostics;
using Xunit.Abstractions;
using XdsControlPlane.Model;
using XdsControlPlane.Sources.Translation;

namespace XdsControlPlane.Sources.Tests.KubernetesWatch;

/// <summary>
/// A large seed over loopback. Durations are printed, not asserted: the assertion is the final state. The waits
/// are generous because CI shares 2 cores with other test projects (it once timed out under load, never wrong).
/// </summary>
public sealed class LoadTests(ITestOutputHelper output)
{
    private const int Tenants = 5_000;

    [Fact]
    public async Task FiveThousandTenantsThenTenThousandEvents_ConvergeToTheFinalState()
    {
        await using var h = await SourceHarness.CreateAsync(output);
        var setup = Stopwatch.StartNew();
        h.Server.Upsert("seeds", Objects.Seed());
        var expectedRanges = new string[Tenants];
        var expectedAddress = new string[Tenants];
        for (var i = 0; i < Tenants; i++)
        {
            expectedRanges[i] = $"10.{i / 256}.{i % 256}.0/24";
            expectedAddress[i] = "10.244.0.10";
            Objects.AddTenant(h.Server, Id(i), expectedRanges[i]);
        }
        output.WriteLine($"stand-in loaded with {(Tenants * 3) + 1} objects in {setup.ElapsedMilliseconds} ms");

        var started = Stopwatch.StartNew();
        h.Start();
        var first = await h.Sink.WaitForAsync(i => true, "a first inventory", TimeSpan.FromSeconds(120));
        output.WriteLine($"time to first inventory: {started.ElapsedMilliseconds} ms ({first.Clusters.Count} clusters, {first.Services.Count} services, {first.EndpointSlices.Count} slices)");
        Assert.Equal(Tenants, first.Clusters.Count);
        Assert.Equal(Tenants, first.Services.Count);
        Assert.Equal(Tenants, first.EndpointSlices.Count);
        await Wait.UntilAsync(() => h.Server.OpenWatches("clusters") == 1 && h.Server.OpenWatches("services") == 2 && h.Server.OpenWatches("endpointslices") == 1, "watches open");

        // 10,000 events: 7,000 allowlist changes, 2,000 endpoint moves, then 500 tenants removed (Cluster and Service).
        var random = new Random(42);
        var events = Stopwatch.StartNew();
        for (var n = 0; n < 7_000; n++)
        {
            var i = random.Next(Tenants);
            expectedRanges[i] = $"172.{16 + (n % 16)}.{n / 256 % 256}.{n % 256}/32";
            h.Server.Upsert("clusters", Objects.Cluster(Id(i), "Tunneling", expectedRanges[i]));
        }
        for (var n = 0; n < 2_000; n++)
        {
            var i = random.Next(Tenants);
            expectedAddress[i] = $"10.245.{n / 256}.{n % 256}";
            h.Server.Upsert("endpointslices", Objects.ApiServerSlice(Id(i), expectedAddress[i]));
        }
        for (var i = Tenants - 500; i < Tenants; i++)
        {
            h.Server.Delete("clusters", null, Id(i));
            h.Server.Delete("services", $"cluster-{Id(i)}", "apiserver-external");
        }
        output.WriteLine($"10,000 events written by the stand-in in {events.ElapsedMilliseconds} ms");

        await Wait.UntilAsync(
            () => h.Informer("clusters").Events == 7_500 && h.Informer("endpointslices").Events == 2_000 && h.Informer("services").Events == 500,
            "all events received", TimeSpan.FromSeconds(180));
        // Every kind of change is in the final state, endpoint moves included: the informers having received every
        // event does not mean the inventory published after the last of them has been seen yet.
        var last = await h.Sink.WaitForAsync(i => i.Clusters.Count == Tenants - 500 && i.Services.Count == Tenants - 500 &&
            i.Clusters.All(c => c.Spec!.ApiServerAllowedIPRanges!.CidrBlocks![0] == expectedRanges[Index(c.Metadata.Name)]) &&
            i.EndpointSlices.All(s => s.Endpoints[0].Addresses[0] == expectedAddress[Index(s.Metadata.NamespaceProperty["cluster-".Length..])]),
            "the final state", TimeSpan.FromSeconds(120));
        output.WriteLine($"converged {events.ElapsedMilliseconds} ms after the first event; {h.Sink.All.Count} inventories published in all");

        var translated = InventoryTranslator.Translate(last, h.Source.Options.ToTranslationOptions());
        Assert.Empty(translated.FailedTenants);
        Assert.Equal(Tenants - 500, translated.Tenants.Count);
        foreach (var tenant in translated.Tenants)
        {
            var i = Index(tenant.Id);
            Assert.Equal(expectedRanges[i], tenant.AllowedRanges.Single().ToString());
            Assert.Equal(new UpstreamEndpoint(expectedAddress[i], 30443), tenant.Services.Single().Ports.Single().Endpoints.Single());
        }
        foreach (var status in h.Source.GetStatus().Informers)
        {
            output.WriteLine(status.ToString());
            Assert.Equal(0, status.Relists);
        }
        Assert.True(h.Sink.All.Count < 200, $"{h.Sink.All.Count} inventories for 10,000 events");
    }

    private static string Id(int i) => $"t{i:D5}";

    private static int Index(string id) => int.Parse(id.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
}
