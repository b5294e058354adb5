namespace XdsControlPlane.Compiler.Compilation;

/// <summary>One Service port asking for a hostname or a node port. The oldest Service wins (envoy-manager's rule), then the lowest key.</summary>
internal readonly record struct PortClaim(DateTimeOffset Created, string Key, string Tenant, string Service) : IComparable<PortClaim>
{
    public int CompareTo(PortClaim other)
    {
        var byAge = Created.CompareTo(other.Created);
        return byAge != 0 ? byAge : string.CompareOrdinal(Key, other.Key);
    }
}
