using Cluster = Envoy.Config.Cluster.V3.Cluster;
using Envoy.Config.Core.V3;
using Envoy.Config.Listener.V3;
using Envoy.Config.Route.V3;
using Envoy.Type.Matcher.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using XdsControlPlane.Compiler.Compilation;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;
using HttpRbacPerRoute = Envoy.Extensions.Filters.Http.Rbac.V3.RBACPerRoute;
using Fragment = Envoy.Config.Route.V3.ScopedRouteConfiguration.Types.Key.Types.Fragment;

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
    public void AnEmptyStringThatIsAOneofMemberIsWrittenAsTheSerialiserWritesIt()
    {
        // A set oneof member has explicit presence: an empty string_key is written (tag, length 0), and a fragment
        // without it is another message (no key type at all). String() leaves empty strings out, right only for
        // plain proto3 fields; the compiler writes the scope key's fragment with StringOneof.
        var expected = new Fragment { StringKey = "" }.ToByteString();
        var written = ProtoWriter.Start().StringOneof(Fragment.StringKeyFieldNumber, "").Finish();

        Assert.Equal(ByteString.CopyFrom(10, 0), expected);
        Assert.Equal(expected, written);
        Assert.Equal(Fragment.TypeOneofCase.StringKey, Fragment.Parser.ParseFrom(written).TypeCase);
        Assert.Equal(new StringMatcher { Exact = "" }.ToByteString(), ProtoWriter.Start().StringOneof(StringMatcher.ExactFieldNumber, "").Finish());
        Assert.Equal(ByteString.Empty, ProtoWriter.Start().String(Fragment.StringKeyFieldNumber, "").Finish());
    }

    [Fact]
    public void ZeroAndFalseOneofMembersAreWrittenTooAndWrappersAlways()
    {
        // STATIC is 0, yet a cluster's type is a oneof member (cluster_discovery_type): the stats cluster carries it.
        Assert.Equal(new Cluster { Type = Cluster.Types.DiscoveryType.Static }.ToByteString(),
            ProtoWriter.Start().UInt32Oneof(Cluster.TypeFieldNumber, (uint)Cluster.Types.DiscoveryType.Static).Finish());
        Assert.Equal(new Envoy.Config.Rbac.V3.Permission { Any = false }.ToByteString(),
            ProtoWriter.Start().BoolOneof(Envoy.Config.Rbac.V3.Permission.AnyFieldNumber, false).Finish());
        Assert.Equal(new SocketAddress { PortValue = 0 }.ToByteString(),
            ProtoWriter.Start().UInt32Oneof(SocketAddress.PortValueFieldNumber, 0).Finish());
        Assert.Equal(new CidrRange { PrefixLen = 0 }.ToByteString(),
            ProtoWriter.Start().UInt32Value(CidrRange.PrefixLenFieldNumber, 0).Finish());
        Assert.Equal(new Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheck { PassThroughMode = false }.ToByteString(),
            ProtoWriter.Start().BoolValue(Envoy.Extensions.Filters.Http.HealthCheck.V3.HealthCheck.PassThroughModeFieldNumber, false).Finish());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1_500)]        // nanos only
    [InlineData(90_000)]       // seconds only
    [InlineData(3_723_456)]    // both
    [InlineData(-1_500)]       // negative: both parts negative, nanos a ten-byte varint
    public void DurationsEncodeAsTheSerialiserDoes(long milliseconds)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);
        var expected = new Envoy.Config.Cluster.V3.Cluster { ConnectTimeout = Duration.FromTimeSpan(value) }.ToByteString();
        Assert.Equal(expected, ProtoWriter.Start().Duration(Cluster.ConnectTimeoutFieldNumber, value).Finish());
    }

    [Fact]
    public void MapEntriesAndEmptyAnysEncodeAsTheSerialiserDoes()
    {
        var expected = new VirtualHost
        {
            TypedPerFilterConfig = { ["f"] = Any.Pack(new Envoy.Extensions.Filters.Http.Router.V3.Router()) },
        };
        var written = ProtoWriter.Start()
            .Begin(VirtualHost.TypedPerFilterConfigFieldNumber)
            .String(ProtoWriter.MapKeyFieldNumber, "f")
            .EmptyAny(ProtoWriter.MapValueFieldNumber, "type.googleapis.com/" + Envoy.Extensions.Filters.Http.Router.V3.Router.Descriptor.FullName)
            .End()
            .Finish();
        Assert.Equal(expected.ToByteString(), written);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5_000)]
    public void ASizedWriterGivesTheSameBytesWhateverTheSizeGiven(int extra)
    {
        var expected = ProtoWriter.Start().String(Listener.NameFieldNumber, new string('x', 300)).Finish();
        var sized = ProtoWriter.StartSized(expected.Length + extra).String(Listener.NameFieldNumber, new string('x', 300)).Finish();
        var small = ProtoWriter.StartSized(1).String(Listener.NameFieldNumber, new string('x', 300)).Finish();
        Assert.Equal(expected, sized);
        Assert.Equal(expected, small);
    }

    [Fact]
    public void AWriterSizedExactlyNeitherGrowsNorCopies()
    {
        // The SNI listener (megabytes at 10,000 tenants) is written into an array of its exact size: strings,
        // varints and nested messages right up to its end must take no more room than they need, or the writer
        // grows (a copy of twice the size) and Finish copies again.
        var body = new byte[5_000];
        var name = new string('a', 40);
        ByteString Write(ProtoWriter writer) => writer
            .String(Listener.NameFieldNumber, name)
            .Message(Listener.FilterChainsFieldNumber, body)
            .Begin(Listener.ListenerFiltersFieldNumber).String(ListenerFilter.NameFieldNumber, "x").End()
            .UInt32(Listener.DrainTypeFieldNumber, 1)
            .String(Listener.StatPrefixFieldNumber, name)
            .Finish();
        var expected = Write(ProtoWriter.Start());

        var before = GC.GetAllocatedBytesForCurrentThread();
        var sized = Write(ProtoWriter.StartSized(expected.Length));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(expected, sized);
        Assert.True(allocated < expected.Length * 3 / 2, $"{allocated} bytes allocated for {expected.Length}");
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
            Assert.Equal(decision.EffectiveRanges.Normalized.Select(ExpectedMessages.Cidr), principals.Select(p => p.DirectRemoteIp));
        }
    }
}
