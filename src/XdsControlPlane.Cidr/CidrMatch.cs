namespace XdsControlPlane.Cidr;

/// <summary>
/// Which of a set's original ranges contain an address, most specific (longest prefix) first. A range
/// listed more than once in the original list appears once here.
/// </summary>
/// <param name="IsMatch">True when at least one range contains the address.</param>
/// <param name="MatchedRanges">The containing original ranges, most specific first.</param>
public readonly record struct CidrMatch(bool IsMatch, IReadOnlyList<CidrRange> MatchedRanges)
{
    internal static CidrMatch None { get; } = new(false, Array.Empty<CidrRange>());

    /// <summary>The longest matching range, or null when nothing matched.</summary>
    public CidrRange? MostSpecific => MatchedRanges is { Count: > 0 } ranges ? ranges[0] : null;
}
