using System.Security.Cryptography;
using System.Text;
using XdsControlPlane.Cidr;
using XdsControlPlane.Snapshots;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Which source addresses a tenant's served RBAC lets open a connection: everything (no filter, dry run,
/// not enforceable and open, no-rules RBAC), nothing (deny-all), or a set.
/// </summary>
public sealed record Admission(bool Everything, CidrSet Ranges, string TrustKey)
{
    /// <summary>
    /// PROXY protocol and a list that covers load balancer addresses. Earlier releases admitted every client the load
    /// balancer relayed for such a list; now only those its PROXY header places in the list. So the key (and with it a
    /// first compile's generation) differs from theirs, and the upgrade renames, and so drains, these tenants' chains:
    /// relayed connections admitted by the old rule do not outlive it. Not part of <see cref="Covers"/>: under the
    /// current rule the admitted set grows with the list whether or not it covers the load balancer.
    /// </summary>
    public bool ListsLoadBalancer { get; init; }

    public static Admission Of(AllowlistDecision decision, SeedSettings seed)
    {
        // With PROXY protocol, who may speak for a client is part of what is admitted.
        var trust = seed.ProxyProtocol ? "pp:" + string.Join(",", seed.ProxyProtocolTrustedRanges.Select(r => r.ToString())) : "direct";
        return decision.Enforcement switch
        {
            Enforcement.EnforcedDirect or Enforcement.EnforcedProxyProtocol => new(false, decision.EffectiveRanges, trust)
            {
                ListsLoadBalancer = decision.ListsLoadBalancer(seed),
            },
            Enforcement.NotEnforceableDenyAll => new(false, CidrSet.Empty, trust),
            _ => new(true, CidrSet.Empty, trust),
        };
    }

    /// <summary>A canonical text of the admitted set: equal admissions have equal keys on every replica.</summary>
    public string Key => Everything ? "everything" : $"{TrustKey}{(ListsLoadBalancer ? LoadBalancerListedMark : "")}|{Ranges}";

    private const string LoadBalancerListedMark = "+header-only";

    /// <summary>
    /// Writes <see cref="Key"/>'s UTF-8 bytes into <paramref name="buffer"/> at <paramref name="offset"/> (growing it)
    /// without building the text, and returns the offset after them: every tenant's first compile hashes its key,
    /// and hashing it piece by piece cost a native call per range.
    /// </summary>
    internal int WriteKey(ref byte[] buffer, int offset)
    {
        if (Everything)
        {
            return Write(ref buffer, offset, "everything"u8);
        }
        // The trust key is ASCII (ranges and a prefix), as is every range's text.
        offset = Write(ref buffer, offset, TrustKey);
        if (ListsLoadBalancer)
        {
            offset = Write(ref buffer, offset, LoadBalancerListedMark);
        }
        offset = Write(ref buffer, offset, "|"u8);
        Span<char> text = stackalloc char[CidrRange.MaxTextLength];
        var normalized = Ranges.Normalized;
        for (var i = 0; i < normalized.Count; i++)
        {
            if (i > 0)
            {
                offset = Write(ref buffer, offset, ", "u8);
            }
            offset = Write(ref buffer, offset, text[..normalized[i].Format(text)]);
        }
        return offset;
    }

    internal static int Write(ref byte[] buffer, int offset, ReadOnlySpan<byte> bytes)
    {
        Reserve(ref buffer, offset, bytes.Length);
        bytes.CopyTo(buffer.AsSpan(offset));
        return offset + bytes.Length;
    }

    private static int Write(ref byte[] buffer, int offset, ReadOnlySpan<char> text)
    {
        Reserve(ref buffer, offset, Encoding.UTF8.GetMaxByteCount(text.Length));
        return offset + Encoding.UTF8.GetBytes(text, buffer.AsSpan(offset));
    }

    private static void Reserve(ref byte[] buffer, int offset, int count)
    {
        if (buffer.Length - offset < count)
        {
            Array.Resize(ref buffer, Math.Max(buffer.Length * 2, offset + count));
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
    private static byte[]? _keyBuffer;

    [ThreadStatic]
    private static IncrementalHash? _sha;

    public static string Hash(Admission current, Admission? after)
    {
        // One buffer and one hasher per thread, one hash call: a tenant's first compile would otherwise allocate the
        // key text, and a one-shot hash sets up a native context each time.
        var buffer = _keyBuffer ??= new byte[4096];
        var length = current.WriteKey(ref buffer, 0);
        if (after is not null)
        {
            length = Admission.Write(ref buffer, length, "\0after\0"u8);
            length = after.WriteKey(ref buffer, length);
        }
        _keyBuffer = buffer;
        Span<byte> digest = stackalloc byte[32];
        var sha = _sha ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(buffer.AsSpan(0, length));
        sha.GetHashAndReset(digest);
        return Convert.ToHexStringLower(digest[..4]);
    }
}
