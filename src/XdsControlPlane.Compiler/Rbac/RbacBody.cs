using Google.Protobuf;

namespace XdsControlPlane.Compiler.Rbac;

/// <summary>
/// A tenant's RBAC policy, encoded: the <c>config.rbac.v3.RBAC</c> rules or, when <paramref name="IsMatcher"/>, the
/// xDS matcher; and whether they are shadow rules (dry run).
/// </summary>
internal sealed record RbacBody(ByteString Encoded, bool IsMatcher, bool Shadow);
