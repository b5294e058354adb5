using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace XdsControlPlane.Cidr;

internal static class IPv4Mapped
{
    private const ulong MappedTag = 0xFFFF;

    public static bool IsMapped(UInt128 address) => (address >> 32) == MappedTag;
}
