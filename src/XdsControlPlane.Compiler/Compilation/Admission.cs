using System.Text;
using XdsControlPlane.Cidr;
using XdsControlPlane.Compiler.Rbac;
using XdsControlPlane.Model;

namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// Which source addresses a tenant's served RBAC lets open a connection: everything (no filter, dry run,
/// not enforceable and open, no-rules RBAC), nothing (deny-all), or a set.
/// </summary>
internal sealed record Admission(bool Everything, CidrSet Ranges, string TrustKey)
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
