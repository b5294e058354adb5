using System.Net;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;
using XdsControlPlane.Server.Debug;

namespace XdsControlPlane.Server.Tests;

/// <summary>/debug/allow with PROXY protocol and a list that covers the load balancer: the verdict is the client address's alone.</summary>
public sealed class AllowVerdictTests
{
    private static readonly SeedSettings Seed = new()
    {
        Name = "s",
        Provider = CloudProvider.Hetzner,
        ProxyProtocol = true,
        ProxyProtocolTrustedRanges = ValueList.From([CidrRange.Parse("10.20.0.0/16")]),
    };

    private static readonly TenantReport Report = new("t", ExposeStrategy.Tunneling, Enforcement.EnforcedProxyProtocol, RangeForm.Principals,
        "r", ["10.0.0.0/8"], ["t.example.com"], [], [], ServingLastGood: false)
    {
        Ranges = CidrSet.Parse(["10.0.0.0/8"]),
    };

    [Fact]
    public void AClientOutsideTheListIsDeniedEvenThoughTheListCoversTheLoadBalancer()
    {
        var verdict = TenantDebugEndpoints.Verdict(Report, IPAddress.Parse("11.0.0.1"), Seed);
        Assert.False(verdict.Allowed);
        Assert.Contains("relayed by the load balancer (judged by the PROXY header)", verdict.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void ALoadBalancerAddressIsSaidToBeJudgedByItsHeader()
    {
        var verdict = TenantDebugEndpoints.Verdict(Report, IPAddress.Parse("10.20.0.5"), Seed);
        Assert.True(verdict.Allowed); // a header-less connection from it: its own address, in the list
        Assert.Contains("trusted load balancer address", verdict.Note, StringComparison.Ordinal);
        Assert.Contains("header-less", verdict.Note, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutProxyProtocolThereIsNoNote() =>
        Assert.Null(TenantDebugEndpoints.Verdict(Report with { Enforcement = Enforcement.EnforcedDirect }, IPAddress.Parse("10.1.1.1"),
            Seed with { ProxyProtocol = false }).Note);
}
