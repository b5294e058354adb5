using System.Net;

namespace XdsControlPlane.Cidr.Tests;

public class AllocationTests
{
    [Fact]
    public void ContainsIPAddressAllocatesNothing()
    {
        var rng = new Random(42);
        var set = CidrSet.Build(Gen.MixedList(rng, 2000));
        IPAddress[] addresses = [.. Gen.Probes(rng, 3000, set.Ranges).Select(p => p.ToIPAddress())];
        int hits = 0;
        for (int warm = 0; warm < 3; warm++)
        {
            foreach (var a in addresses)
            {
                hits += set.Contains(a) ? 1 : 0;
            }
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 20; round++)
        {
            foreach (var a in addresses)
            {
                hits += set.Contains(a) ? 1 : 0;
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(hits > 0, "the probe set should include addresses inside the ranges");
    }
}
