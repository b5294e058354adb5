using System.Security.Cryptography;

namespace XdsControlPlane.Compiler.Compilation;

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
internal static class Revocation
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
