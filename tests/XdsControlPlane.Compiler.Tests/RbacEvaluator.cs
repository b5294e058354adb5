using System.Net;
using Envoy.Config.Listener.V3;
using XdsControlPlane.Compiler.Snapshots;
using CoreCidr = Envoy.Config.Core.V3.CidrRange;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3.RBAC;
using Rbac = Envoy.Config.Rbac.V3;

namespace XdsControlPlane.Compiler.Tests;

/// <summary>
/// An independent reading of the RBAC we emit, written from Envoy's documented semantics (not from the
/// compiler): rules absent = allow; ALLOW rules = allowed iff some policy's principal matches; matcher =
/// first matching field matcher's action, else on_no_match. Addresses are matched with System.Net.IPNetwork.
/// </summary>
public static class RbacEvaluator
{
    public static bool Allows(NetworkRbac? config, IPAddress direct, IPAddress? remote = null)
    {
        if (config is null)
        {
            return true;
        }
        remote ??= direct;
        if (config.Matcher is { } matcher)
        {
            return EvaluateMatcher(matcher, direct, remote);
        }
        if (config.Rules is null)
        {
            return true;
        }
        var any = config.Rules.Policies.Values.Any(p => p.Principals.Any(pr => Matches(pr, direct, remote)));
        return config.Rules.Action == Rbac.RBAC.Types.Action.Allow ? any : !any;
    }

    private static bool Matches(Rbac.Principal principal, IPAddress direct, IPAddress remote) => principal.IdentifierCase switch
    {
        Rbac.Principal.IdentifierOneofCase.Any => principal.Any,
        Rbac.Principal.IdentifierOneofCase.DirectRemoteIp => InRange(principal.DirectRemoteIp, direct),
        Rbac.Principal.IdentifierOneofCase.RemoteIp => InRange(principal.RemoteIp, remote),
        Rbac.Principal.IdentifierOneofCase.OrIds => principal.OrIds.Ids.Any(p => Matches(p, direct, remote)),
        Rbac.Principal.IdentifierOneofCase.AndIds => principal.AndIds.Ids.All(p => Matches(p, direct, remote)),
        Rbac.Principal.IdentifierOneofCase.NotId => !Matches(principal.NotId, direct, remote),
        _ => throw new NotSupportedException($"principal {principal.IdentifierCase} is not expected in our output"),
    };

    private static bool EvaluateMatcher(Xds.Type.Matcher.V3.Matcher matcher, IPAddress direct, IPAddress remote)
    {
        foreach (var field in matcher.MatcherList.Matchers)
        {
            if (Predicate(field.Predicate, direct, remote))
            {
                return ActionAllows(field.OnMatch);
            }
        }
        return matcher.OnNoMatch is { } none && ActionAllows(none);
    }

    private static bool ActionAllows(Xds.Type.Matcher.V3.Matcher.Types.OnMatch onMatch) =>
        onMatch.Action.TypedConfig.Unpack<Rbac.Action>().Action_ == Rbac.RBAC.Types.Action.Allow;

    private static bool Predicate(Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.Predicate predicate, IPAddress direct, IPAddress remote)
    {
        if (predicate.AndMatcher is { } and)
        {
            return and.Predicate.All(p => Predicate(p, direct, remote));
        }
        if (predicate.OrMatcher is { } or)
        {
            return or.Predicate.Any(p => Predicate(p, direct, remote));
        }
        var single = predicate.SinglePredicate;
        var address = single.Input.Name switch
        {
            "envoy.matching.inputs.direct_source_ip" => direct,
            "envoy.matching.inputs.source_ip" => remote,
            _ => throw new NotSupportedException(single.Input.Name),
        };
        var ip = single.CustomMatch.TypedConfig.Unpack<Envoy.Extensions.Matching.InputMatchers.Ip.V3.Ip>();
        return ip.CidrRanges.Any(r => InRange(r, address));
    }

    private static bool InRange(CoreCidr range, IPAddress address)
    {
        var network = new IPNetwork(IPAddress.Parse(range.AddressPrefix), (int)(range.PrefixLen ?? 0));
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        return network.Contains(address);
    }

    private const string NetworkRbacType = "type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC";

    /// <summary>The network RBAC filter of the SNI chain for <paramref name="hostname"/>, or null if the chain has none.</summary>
    public static NetworkRbac? SniRbac(Snapshot snapshot, string hostname)
    {
        var listener = (Listener)snapshot.Get(TypeUrls.Listener).Resources["sni_listener"].Message;
        var chain = listener.FilterChains.Single(c => c.FilterChainMatch.ServerNames.Contains(hostname));
        return ChainRbac(snapshot, chain);
    }

    /// <summary>The network RBAC of the (single) chain of a NodePort listener, or null if it has none.</summary>
    public static NetworkRbac? NodePortRbac(Snapshot snapshot, string listenerName)
    {
        var listener = (Listener)snapshot.Get(TypeUrls.Listener).Resources[listenerName].Message;
        return ChainRbac(snapshot, listener.FilterChains.Single());
    }

    /// <summary>
    /// The RBAC a chain applies: inline (<c>typed_config</c>), or by ECDS (<c>config_discovery</c>), followed as
    /// Envoy does: the TypedExtensionConfig of the filter's name in the snapshot, whose type must be one the
    /// filter accepts. A discovered filter whose config is missing would close connections: that is an error here.
    /// </summary>
    public static NetworkRbac? ChainRbac(Snapshot snapshot, FilterChain chain)
    {
        var inline = chain.Filters.FirstOrDefault(f => f.Name == "envoy.filters.network.rbac");
        if (inline is not null)
        {
            return inline.TypedConfig.Unpack<NetworkRbac>();
        }
        var discovered = chain.Filters.FirstOrDefault(f => f.ConfigDiscovery is { } d && d.TypeUrls.Contains(NetworkRbacType));
        if (discovered is null)
        {
            return null;
        }
        var extensions = snapshot.Get(TypeUrls.ExtensionConfig).Resources;
        Assert.True(extensions.ContainsKey(discovered.Name), $"ECDS filter '{discovered.Name}' has no TypedExtensionConfig");
        var config = (Envoy.Config.Core.V3.TypedExtensionConfig)extensions[discovered.Name].Message;
        Assert.Equal(discovered.Name, config.Name);
        Assert.Contains(config.TypedConfig.TypeUrl, discovered.ConfigDiscovery.TypeUrls);
        return config.TypedConfig.Unpack<NetworkRbac>();
    }

}
