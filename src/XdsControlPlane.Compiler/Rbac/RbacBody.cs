using Google.Protobuf;
using XdsControlPlane.Cidr;
using XdsControlPlane.Model;
using XdsControlPlane.Snapshots;
using CoreCidr = Envoy.Config.Core.V3.CidrRange;
using FieldMatcher = Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.FieldMatcher;
using HttpRbac = Envoy.Extensions.Filters.Http.Rbac.V3;
using IpMatcher = Envoy.Extensions.Matching.InputMatchers.Ip.V3.Ip;
using MatcherList = Xds.Type.Matcher.V3.Matcher.Types.MatcherList;
using NetworkInputs = Envoy.Extensions.Matching.CommonInputs.Network.V3;
using NetworkRbac = Envoy.Extensions.Filters.Network.Rbac.V3;
using OnMatch = Xds.Type.Matcher.V3.Matcher.Types.OnMatch;
using Predicate = Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.Predicate;
using EnvoyRbac = Envoy.Config.Rbac.V3;
using SinglePredicate = Xds.Type.Matcher.V3.Matcher.Types.MatcherList.Types.Predicate.Types.SinglePredicate;
using TypedExtensionConfig = Xds.Core.V3.TypedExtensionConfig;
using XdsMatcher = Xds.Type.Matcher.V3.Matcher;

namespace XdsControlPlane.Compiler.Rbac;

/// <summary>
/// A tenant's RBAC policy, encoded: the <c>config.rbac.v3.RBAC</c> rules or, when <paramref name="IsMatcher"/>, the
/// xDS matcher; and whether they are shadow rules (dry run).
/// </summary>
internal sealed record RbacBody(ByteString Encoded, bool IsMatcher, bool Shadow);
