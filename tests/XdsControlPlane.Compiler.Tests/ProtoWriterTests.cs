using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;
using HttpRbacPerRoute = Envoy.Extensions.Filters.Http.Rbac.V3.RBACPerRoute;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// The hand-written encodings give the bytes protobuf's own serialiser gives (every compiled resource is also
/// re-serialised in <see cref="EnvoyApiConformanceTests"/>); here the writer's edges: lengths that need two and
/// three bytes, nesting, reuse on a thread, misuse.
/// </summary>
public sealed class ProtoWriterTests
{
    [Theory]
    [InlineData(3)]      // one-byte lengths
    [InlineData(200)]    // two-byte lengths at every level
    [InlineData(20_000)] // three-byte lengths
    public void NestedMessagesOfEveryLengthClassEncodeAsTheSerialiserDoes(int nameLength)
    {
        var name = new string('n', nameLength);
        var expected = new Listener
        {
            Name = name,
            Address = new Address { SocketAddress = new SocketAddress { Address = name, PortValue = 6443 } },
            FilterChains = { new FilterChain { Name = name, Filters = { new Filter { Name = name, TypedConfig = Any.Pack(new StringValue { Value = name }) } } } },
        };

        var writer = ProtoWriter.Start()
            .String(Listener.NameFieldNumber, name)
            .Begin(Listener.AddressFieldNumber).Begin(Address.SocketAddressFieldNumber)
            .String(SocketAddress.AddressFieldNumber, name).UInt32(SocketAddress.PortValueFieldNumber, 6443)
            .End().End()
            .Begin(Listener.FilterChainsFieldNumber)
            .Begin(FilterChain.FiltersFieldNumber)
            .String(Filter.NameFieldNumber, name)
            .BeginAny(Filter.TypedConfigFieldNumber, "type.googleapis.com/google.protobuf.StringValue")
            .String(StringValue.ValueFieldNumber, name)
            .EndAny()
            .End()
            .String(FilterChain.NameFieldNumber, name)
            .End();

        Assert.Equal(expected.ToByteString(), writer.Finish());
    }

    [Theory]
    [InlineData("€", 42)]     // 126 bytes: the one-pass path, whose one-byte length must hold any 42 chars
    [InlineData("€", 43)]     // 129 bytes: measured first, a two-byte length
    [InlineData("😀", 21)]    // surrogate pairs: 84 bytes from 42 chars
    [InlineData("ascii", 30)]
    public void StringsAreWrittenAsUtf8WithTheirLengthInBytes(string piece, int repeat)
    {
        var text = string.Concat(Enumerable.Repeat(piece, repeat));
        Assert.Equal(new StringValue { Value = text }.ToByteString(), ProtoWriter.Start().String(StringValue.ValueFieldNumber, text).Finish());
    }

    [Fact]
    public void AnEncodingStartedWhileAnotherIsOpenOnTheThreadDoesNotDisturbIt()
    {
        var outer = ProtoWriter.Start().String(1, "outer").Begin(2);
        var inner = ProtoWriter.Start().String(1, "inner").Finish();
        outer.Message(3, inner.Span).End();
        var reused = ProtoWriter.Start().String(1, "again").Finish();

        Assert.Equal(ByteString.CopyFrom([10, 5, .. "outer"u8, 18, 9, 26, 7, 10, 5, .. "inner"u8]), outer.Finish());
        Assert.Equal(ByteString.CopyFrom([10, 5, .. "again"u8]), reused);
    }

    [Fact]
    public void MisuseIsRefusedRatherThanEncodedWrongly()
    {
        Assert.Throws<InvalidOperationException>(() => ProtoWriter.Start().Begin(1).Finish());
        Assert.Throws<InvalidOperationException>(() => ProtoWriter.Start().BeginAny(1, "type.googleapis.com/x").EndAny());
        var writer = ProtoWriter.Start();
        writer.Finish();
        Assert.Throws<InvalidOperationException>(() => writer.Finish());
    }

    [Theory]
    [InlineData(false, 5)]
    [InlineData(true, 5)]
    [InlineData(false, 100)]
    [InlineData(true, 100)]
    public void RbacConfigsCarryTheBodyInTheFieldItsFormAndModeSelect(bool dryRun, int ranges)
    {
        var seed = new SeedSettings { Name = "s", Provider = CloudProvider.Aws };
        var tenant = new Tenant
        {
            Id = "t1",
            Strategy = ExposeStrategy.Tunneling,
            AllowlistMode = dryRun ? AllowlistMode.DryRun : AllowlistMode.Enforce,
            AllowedRanges = ValueList.From(Enumerable.Range(0, ranges).Select(i => XdsControlPlane.Cidr.CidrRange.Parse($"10.{2 * i}.0.0/16"))),
        };
        var decision = AllowlistDecision.Decide(tenant, seed);
        var body = RbacConfigs.Body(tenant.Id, decision, seed)!;
        var network = NetworkRbac.Parser.ParseFrom(RbacConfigs.WriteNetwork(ProtoWriter.Start(), "t1", "sni", body).Finish());
        var http = HttpRbacPerRoute.Parser.ParseFrom(RbacConfigs.WriteHttp(ProtoWriter.Start(), "t1", body).Finish()).Rbac;
        var trie = ranges > AllowlistDecision.TrieThreshold;

        Assert.Equal(trie, body.IsMatcher);
        Assert.Equal(EnvoyNames.TenantStatPrefix("t1", "sni"), network.StatPrefix);
        Assert.Equal(!dryRun && !trie, network.Rules is not null);
        Assert.Equal(dryRun && !trie, network.ShadowRules is not null);
        Assert.Equal(!dryRun && trie, network.Matcher is not null);
        Assert.Equal(dryRun && trie, network.ShadowMatcher is not null);
        Assert.Equal(dryRun ? "shadow." : "", network.ShadowRulesStatPrefix);
        Assert.Equal(!dryRun && !trie, http.Rules is not null);
        Assert.Equal(dryRun && !trie, http.ShadowRules is not null);
        Assert.Equal(!dryRun && trie, http.Matcher is not null);
        Assert.Equal(dryRun && trie, http.ShadowMatcher is not null);
        var prefix = EnvoyNames.TenantStatPrefix("t1", "tunneling");
        Assert.Equal(dryRun ? "" : prefix, http.RulesStatPrefix);
        Assert.Equal(dryRun ? prefix : "", http.ShadowRulesStatPrefix);
        if (!trie)
        {
            var principals = (network.Rules ?? network.ShadowRules)!.Policies[RbacConfigs.PolicyName("t1")].Principals;
            Assert.Equal(decision.EffectiveRanges.Normalized.Select(r => RbacConfigs.ToEnvoy(r)), principals.Select(p => p.DirectRemoteIp));
        }
    }
}
