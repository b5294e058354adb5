namespace XdsControlPlane.Cidr;

internal static class IPv4Mapped
{
    private const ulong MappedTag = 0xFFFF;

    public static bool IsMapped(UInt128 address) => (address >> 32) == MappedTag;
}
