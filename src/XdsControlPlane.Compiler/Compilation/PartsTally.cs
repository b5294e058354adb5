namespace XdsControlPlane.Compiler.Compilation;

/// <summary>
/// An order-independent digest of a shared listener's parts (the sum of each part's (name, hash) digest) and
/// their count: updated by subtracting a changed tenant's old parts and adding its new ones. The parts' order
/// in the message follows from their names (tenant id, then port), so equal tallies mean equal listeners.
/// </summary>
internal readonly record struct PartsTally(UInt128 Digest, int Count)
{
    public static PartsTally Update<T>(PartsTally? previous, List<(TenantArtifacts? Old, TenantArtifacts? New)> changed,
        TenantArtifacts[] ordered, Func<TenantArtifacts, IReadOnlyList<HashedPart<T>>> parts)
        where T : Google.Protobuf.IMessage<T>, new()
    {
        UInt128 digest = 0;
        var count = 0;
        if (previous is { } before)
        {
            (digest, count) = before;
            foreach (var (old, @new) in changed)
            {
                if (old is not null)
                {
                    foreach (var part in parts(old))
                    {
                        digest -= part.Digest;
                        count--;
                    }
                }
                if (@new is not null)
                {
                    foreach (var part in parts(@new))
                    {
                        digest += part.Digest;
                        count++;
                    }
                }
            }
            return new(digest, count);
        }
        foreach (var artifacts in ordered)
        {
            foreach (var part in parts(artifacts))
            {
                digest += part.Digest;
                count++;
            }
        }
        return new(digest, count);
    }
}
