using System.Security.Cryptography;
using System.Text;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Which source addresses a tenant's served RBAC lets open a connection: everything (no filter, dry run,
/// not enforceable and open, no-rules RBAC), nothing (deny-all), or a set.
/// </summary>
public sealed record Admission(bool Everything, CidrSet Ranges, string TrustKey)
{
    public static Admission Of(AllowlistDecision decision, SeedSettings seed)
    {
        // With PROXY protocol, who may speak for a client is part of what is admitted.
        var trust = seed.ProxyProtocol ? "pp:" + string.Join(",", seed.ProxyProtocolTrustedRanges.Select(r => r.ToString())) : "direct";
        return decision.Enforcement switch
        {
            Enforcement.EnforcedDirect or Enforcement.EnforcedProxyProtocol => new(false, decision.EffectiveRanges, trust),
            Enforcement.NotEnforceableDenyAll => new(false, CidrSet.Empty, trust),
            _ => new(true, CidrSet.Empty, trust),
        };
    }

    /// <summary>A canonical text of the admitted set: equal admissions have equal keys on every replica.</summary>
    public string Key => Everything ? "everything" : $"{TrustKey}|{Ranges}";

    /// <summary>Appends <see cref="Key"/>'s UTF-8 bytes to <paramref name="hash"/> without building the text (every tenant's first compile hashes it).</summary>
    public void AppendKey(IncrementalHash hash)
    {
        if (Everything)
        {
            hash.AppendData("everything"u8);
            return;
        }
        Append(hash, TrustKey);
        hash.AppendData("|"u8);
        Span<char> text = stackalloc char[CidrRange.MaxTextLength];
        var first = true;
        foreach (var range in Ranges.Normalized)
        {
            if (!first)
            {
                hash.AppendData(", "u8);
            }
            first = false;
            Append(hash, text[..range.Format(text)]);
        }
    }

    private static void Append(IncrementalHash hash, ReadOnlySpan<char> text)
    {
        Span<byte> bytes = stackalloc byte[Encoding.UTF8.GetMaxByteCount(CidrRange.MaxTextLength)];
        for (var offset = 0; offset < text.Length; offset += CidrRange.MaxTextLength)
        {
            var piece = text[offset..Math.Min(text.Length, offset + CidrRange.MaxTextLength)];
            hash.AppendData(bytes[..Encoding.UTF8.GetBytes(piece, bytes)]);
        }
    }

    /// <summary>True when this admission lets in every address <paramref name="old"/> let in.</summary>
    public bool Covers(Admission old) =>
        Everything || (!old.Everything && TrustKey == old.TrustKey && Ranges.Covers(old.Ranges));
}

/// <summary>
/// The revocation generation of a tenant (ECDS delivery). ECDS reaches new connections only; a change of
/// the tenant's own chain makes Envoy drain that chain, closing its connections at the end of
/// <c>--drain-time-s</c>. So the generation (part of the ECDS filter's name, hence of the chain) changes
/// exactly when the admitted set narrows, and stays when it widens or is unchanged.
/// </summary>
/// <remarks>
/// No function of the current list alone can do this (X → wider Y must keep the chain, Y → X must change it),
/// so the generation depends on (previous generation, previous admission, new admission) and, for a tenant
/// compiled without a previous result (first compile, restart, another replica), on the admission alone:
/// <list type="bullet">
/// <item>first compile: <c>H(admission)</c>; a restart across a narrowing therefore still renames (and drains);</item>
/// <item>narrowing: <c>H(new admission)</c>, or <c>H(new ‖ old)</c> if that equals the current generation
/// (X → Y → X must rename again), so it always changes;</item>
/// <item>widening or no change: kept.</item>
/// </list>
/// Two replicas with different histories agree again at the tenant's next narrowing (both pick
/// <c>H(new admission)</c>); until then an Envoy moving between them drains that tenant's chain once (too much
/// revocation, never too little).
/// </remarks>
public static class Revocation
{
    public static string Fresh(Admission admission) => Hash(admission, null);

    /// <summary>
    /// The generation after a compile (the rules above), and whether a drain is owed. When <paramref name="drainNow"/>
    /// is false, a narrowing keeps the generation (the filter's config is replaced under the same name, so new
    /// connections get the narrower list at once, at the cost of one small ECDS resource) and the rename is owed;
    /// the next compile that drains renames. A drain owed survives widenings: connections admitted before the
    /// narrowing still run.
    /// </summary>
    public static (string Generation, bool Owed) Next(string? previousGeneration, Admission? previous, Admission current,
        bool previouslyOwed, bool drainNow)
    {
        if (string.IsNullOrEmpty(previousGeneration) || previous is null)
        {
            return (Fresh(current), false);
        }
        if (current.Covers(previous) && !previouslyOwed)
        {
            return (previousGeneration, false);
        }
        if (!drainNow)
        {
            return (previousGeneration, true);
        }
        var candidate = Hash(current, null);
        return (candidate != previousGeneration ? candidate : Hash(current, previous), false);
    }

    /// <summary>
    /// SHA-256 of <c>current.Key</c>, or of <c>current.Key + "\0after\0" + after.Key</c>, as 8 hex digits: the
    /// generation only has to differ from the one before it (checked above). SHA-256, not the versions' XXH128:
    /// the generation decides whether live connections are cut, and tenants choose the text.
    /// </summary>
    [ThreadStatic]
    private static IncrementalHash? _sha;

    public static string Hash(Admission current, Admission? after)
    {
        // One hasher per thread, reset by GetHashAndReset: a tenant's first compile would otherwise create one.
        var sha = _sha ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        current.AppendKey(sha);
        if (after is not null)
        {
            sha.AppendData("\0after\0"u8);
            after.AppendKey(sha);
        }
        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return Convert.ToHexStringLower(digest[..4]);
    }
}
