using System.Net;
using Google.Protobuf.WellKnownTypes;
using CoreCidr = Envoy.Config.Core.V3.CidrRange;
using IpMatcher = Envoy.Extensions.Matching.InputMatchers.Ip.V3.Ip;
using NetworkInputs = Envoy.Extensions.Matching.CommonInputs.Network.V3;
using EnvoyRbac = Envoy.Config.Rbac.V3;
using XdsMatcher = Xds.Type.Matcher.V3.Matcher;
using TypedExtensionConfig = Xds.Core.V3.TypedExtensionConfig;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// The evaluator itself, on hand-written configs: the constructs where a lax reading would hide a compiler bug
/// (permissions, not_id, a nested matcher that does not match).
/// </summary>
public sealed class RbacEvaluatorTests
{
    private static readonly IPAddress Inside = IPAddress.Parse("10.1.1.1");
    private static readonly IPAddress Outside = IPAddress.Parse("11.1.1.1");

    private static EnvoyRbac.Principal Direct(string prefix, uint length) =>
        new() { DirectRemoteIp = new CoreCidr { AddressPrefix = prefix, PrefixLen = length } };

    [Fact]
    public void APolicyNeedsAMatchingPermissionAsWellAsAMatchingPrincipal()
    {
        var policy = new EnvoyRbac.Policy { Principals = { Direct("10.0.0.0", 8) } };
        policy.Permissions.Add(new EnvoyRbac.Permission { NotRule = new EnvoyRbac.Permission { Any = true } });
        var rules = new EnvoyRbac.RBAC { Policies = { ["p"] = policy } };
        Assert.False(RbacEvaluator.Allows(rules, null, Inside, Inside), "a policy whose permission never matches admitted a listed peer");
        policy.Permissions[0] = new EnvoyRbac.Permission { Any = true };
        Assert.True(RbacEvaluator.Allows(rules, null, Inside, Inside));
        Assert.False(RbacEvaluator.Allows(rules, null, Outside, Outside));
        rules.Action = EnvoyRbac.RBAC.Types.Action.Deny;
        Assert.False(RbacEvaluator.Allows(rules, null, Inside, Inside));
        Assert.True(RbacEvaluator.Allows(rules, null, Outside, Outside));
    }

    [Fact]
    public void NotIdInvertsItsPrincipal()
    {
        var policy = new EnvoyRbac.Policy { Permissions = { new EnvoyRbac.Permission { Any = true } }, Principals = { new EnvoyRbac.Principal { NotId = Direct("10.0.0.0", 8) } } };
        var rules = new EnvoyRbac.RBAC { Policies = { ["p"] = policy } };
        Assert.False(RbacEvaluator.Allows(rules, null, Inside, Inside));
        Assert.True(RbacEvaluator.Allows(rules, null, Outside, Outside));
    }

    [Fact]
    public void ANestedMatcherWithoutOnNoMatchLetsTheListGoOnAndOneWithItDecides()
    {
        XdsMatcher.Types.OnMatch Action(EnvoyRbac.RBAC.Types.Action action) => new()
        {
            Action = new TypedExtensionConfig { Name = "envoy.filters.rbac.action", TypedConfig = Any.Pack(new EnvoyRbac.Action { Name = "a", Action_ = action }) },
        };
        XdsMatcher.Types.MatcherList.Types.Predicate Source(Any input, string prefix, uint length)
        {
            var ip = new IpMatcher { StatPrefix = "s" };
            ip.CidrRanges.Add(new CoreCidr { AddressPrefix = prefix, PrefixLen = length });
            return new XdsMatcher.Types.MatcherList.Types.Predicate
            {
                SinglePredicate = new XdsMatcher.Types.MatcherList.Types.Predicate.Types.SinglePredicate
                {
                    Input = new TypedExtensionConfig { Name = "in", TypedConfig = input },
                    CustomMatch = new TypedExtensionConfig { Name = "ip", TypedConfig = Any.Pack(ip) },
                },
            };
        }
        // direct ∈ 10/8 → (remote ∈ 192.0.2.0/24 → allow); direct ∈ 10/8 → allow; else deny.
        var nested = new XdsMatcher { MatcherList = new XdsMatcher.Types.MatcherList() };
        nested.MatcherList.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher
        {
            Predicate = Source(Any.Pack(new NetworkInputs.SourceIPInput()), "192.0.2.0", 24), OnMatch = Action(EnvoyRbac.RBAC.Types.Action.Allow),
        });
        var root = new XdsMatcher { MatcherList = new XdsMatcher.Types.MatcherList(), OnNoMatch = Action(EnvoyRbac.RBAC.Types.Action.Deny) };
        root.MatcherList.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher
        {
            Predicate = Source(Any.Pack(new NetworkInputs.DirectSourceIPInput()), "10.0.0.0", 8), OnMatch = new XdsMatcher.Types.OnMatch { Matcher = nested },
        });
        root.MatcherList.Matchers.Add(new XdsMatcher.Types.MatcherList.Types.FieldMatcher
        {
            Predicate = Source(Any.Pack(new NetworkInputs.DirectSourceIPInput()), "10.0.0.0", 8), OnMatch = Action(EnvoyRbac.RBAC.Types.Action.Allow),
        });
        // The nested matcher does not match: Envoy goes on to the second field matcher, which allows.
        Assert.True(RbacEvaluator.Allows(null, root, Inside, Outside));
        // With on_no_match the nested matcher decides.
        nested.OnNoMatch = Action(EnvoyRbac.RBAC.Types.Action.Deny);
        Assert.False(RbacEvaluator.Allows(null, root, Inside, Outside));
        Assert.True(RbacEvaluator.Allows(null, root, Inside, IPAddress.Parse("192.0.2.9")));
        Assert.False(RbacEvaluator.Allows(null, root, Outside, Outside));
    }
}
