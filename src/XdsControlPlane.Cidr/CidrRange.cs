using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace XdsControlPlane.Cidr;

/// <summary>
/// One CIDR prefix, IPv4 or IPv6, validated strictly: the host bits are always zero.
/// An IPv4-mapped IPv6 prefix (<c>::ffff:a.b.c.d/96+n</c>) is stored as the IPv4 prefix <c>a.b.c.d/n</c>,
/// so the same range has one representation whatever form it was written in.
/// </summary>
/// <remarks>
/// <c>default(CidrRange)</c> is not a range: it contains nothing, formats as an empty string and is
/// refused by <see cref="CidrSet.Build"/>, so that an uninitialised value can never mean "everything".
/// </remarks>
public readonly record struct CidrRange : IComparable<CidrRange>
{
    private const byte KindNone = 0;
    private const byte KindV4 = 4;
    private const byte KindV6 = 6;

    // The network as two ulongs rather than one UInt128: UInt128 is 16-byte aligned, which pads the struct
    // to 32 bytes; this way it is 24, and every list of ranges (a set's Ranges and Normalized, the model's
    // allowlists) is a quarter smaller. IPv4 networks live in the low 32 bits.
    private readonly ulong _upper;
    private readonly ulong _lower;
    private readonly byte _prefixLength;
    private readonly byte _kind;

    private CidrRange(UInt128 bits, int prefixLength, byte kind)
    {
        _upper = (ulong)(bits >> 64);
        _lower = (ulong)bits;
        _prefixLength = (byte)prefixLength;
        _kind = kind;
    }

    /// <summary>The network address (host bits zero). IPv4 ranges are <see cref="AddressFamily.InterNetwork"/>.</summary>
    public IPAddress Network => _kind switch
    {
        KindV4 => new IPAddress(ToBytes4((uint)Bits)),
        KindV6 => new IPAddress(ToBytes16(Bits)),
        _ => IPAddress.None,
    };

    /// <summary>The network address as text (dotted quad, or RFC 5952 for IPv6), without an <see cref="IPAddress"/>.</summary>
    public string NetworkText => _kind switch
    {
        KindV4 => FormatV4((uint)Bits),
        KindV6 => FormatV6(Bits),
        _ => string.Empty,
    };

    /// <summary>The number of leading network bits: 0-32 for IPv4, 0-128 for IPv6.</summary>
    public int PrefixLength => _prefixLength;

    /// <summary>True for IPv4 ranges, including those written as IPv4-mapped IPv6.</summary>
    public bool IsIPv4 => _kind == KindV4;

    /// <summary>True for IPv6 ranges (never for IPv4-mapped ones, which are IPv4).</summary>
    public bool IsIPv6 => _kind == KindV6;

    internal bool IsDefault => _kind == KindNone;

    private UInt128 Bits => new(_upper, _lower);

    internal int Width => _kind == KindV4 ? 32 : 128;

    /// <summary>The first address, host order; IPv4 in the low 32 bits.</summary>
    internal UInt128 First => Bits;

    /// <summary>The last address, host order; IPv4 in the low 32 bits.</summary>
    internal UInt128 Last => Bits | HostMask(Width, _prefixLength);

    /// <summary>Creates a range for an IPv4 network given as a host-order integer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The prefix length is outside 0-32.</exception>
    /// <exception cref="ArgumentException">Host bits are set.</exception>
    public static CidrRange FromIPv4(uint network, int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 32);
        if ((network & (uint)HostMask(32, prefixLength)) != 0)
        {
            throw new ArgumentException(
                $"host bits are set in {FormatV4(network)}/{prefixLength} (did you mean {FormatV4(network & ~(uint)HostMask(32, prefixLength))}/{prefixLength}?)",
                nameof(network));
        }

        return new CidrRange(network, prefixLength, KindV4);
    }

    /// <summary>
    /// Creates a range for an IPv6 network given as a host-order integer. A prefix inside
    /// <c>::ffff:0:0/96</c> becomes the equivalent IPv4 range.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The prefix length is outside 0-128.</exception>
    /// <exception cref="ArgumentException">Host bits are set.</exception>
    public static CidrRange FromIPv6(UInt128 network, int prefixLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(prefixLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 128);
        if ((network & HostMask(128, prefixLength)) != 0)
        {
            throw new ArgumentException(
                $"host bits are set in {FormatV6(network)}/{prefixLength} (did you mean {FormatV6(network & ~HostMask(128, prefixLength))}/{prefixLength}?)",
                nameof(network));
        }

        return CreateV6Unchecked(network, prefixLength);
    }

    /// <summary>Creates a range from a network address and prefix length.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="network"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The prefix length is out of range for the family.</exception>
    /// <exception cref="ArgumentException">Host bits are set, the address has a scope id, or it is not IPv4/IPv6.</exception>
    public static CidrRange Create(IPAddress network, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(network);
        switch (network.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                Span<byte> four = stackalloc byte[4];
                network.TryWriteBytes(four, out _);
                return FromIPv4(BinaryPrimitives.ReadUInt32BigEndian(four), prefixLength);
            case AddressFamily.InterNetworkV6:
                if (network.ScopeId != 0)
                {
                    throw new ArgumentException("a network address cannot carry a zone id", nameof(network));
                }

                Span<byte> sixteen = stackalloc byte[16];
                network.TryWriteBytes(sixteen, out _);
                return FromIPv6(BinaryPrimitives.ReadUInt128BigEndian(sixteen), prefixLength);
            default:
                throw new ArgumentException($"address family {network.AddressFamily} is not IPv4 or IPv6", nameof(network));
        }
    }

    /// <summary>Parses <c>address/prefix</c> strictly (see <see cref="TryParse"/> for the rules).</summary>
    /// <exception cref="CidrFormatException">The text is not a valid CIDR range; <see cref="CidrFormatException.Index"/> is -1.</exception>
    public static CidrRange Parse(string text) => Parse(text, -1);

    /// <summary>
    /// Parses <c>address/prefix</c> strictly. Surrounding whitespace is trimmed; everything else must be
    /// exact: a prefix length is required, the address is a canonical dotted quad or an IPv6 address
    /// without zone id, the prefix is a plain decimal number in range, and host bits must be zero.
    /// </summary>
    /// <returns>False with a human-readable <paramref name="error"/> when the text is not valid.</returns>
    public static bool TryParse(string text, out CidrRange range, out string? error)
    {
        error = TryParseCore(text, out range);
        return error is null;
    }

    internal static CidrRange Parse(string? text, int index)
    {
        string? reason = TryParseCore(text, out var range);
        if (reason is not null)
        {
            throw new CidrFormatException(text ?? string.Empty, index, reason);
        }

        return range;
    }

    /// <summary>True when <paramref name="address"/> lies in this range. IPv4-mapped IPv6 addresses match IPv4 ranges.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (_kind == KindNone)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            return false;
        }

        if (written == 4)
        {
            return ContainsIPv4(BinaryPrimitives.ReadUInt32BigEndian(bytes));
        }

        return ContainsIPv6(BinaryPrimitives.ReadUInt128BigEndian(bytes));
    }

    internal bool ContainsIPv4(uint address) =>
        _kind == KindV4 && (address & ~(uint)HostMask(32, _prefixLength)) == (uint)Bits;

    internal bool ContainsIPv6(UInt128 address)
    {
        if (IPv4Mapped.IsMapped(address))
        {
            return ContainsIPv4((uint)address);
        }

        return _kind == KindV6 && (address & ~HostMask(128, _prefixLength)) == Bits;
    }

    /// <summary>True when every address of <paramref name="other"/> is in this range.</summary>
    public bool Contains(CidrRange other) =>
        _kind != KindNone && other._kind == _kind && other._prefixLength >= _prefixLength
        && (other.Bits & ~HostMask(Width, _prefixLength)) == Bits;

    /// <summary>Orders IPv4 before IPv6, then by network address, then by prefix length (shorter first).</summary>
    public int CompareTo(CidrRange other)
    {
        int c = _kind.CompareTo(other._kind);
        if (c != 0)
        {
            return c;
        }

        c = Bits.CompareTo(other.Bits);
        return c != 0 ? c : _prefixLength.CompareTo(other._prefixLength);
    }

    /// <summary>Compares by <see cref="CompareTo"/>.</summary>
    public static bool operator <(CidrRange left, CidrRange right) => left.CompareTo(right) < 0;

    /// <summary>Compares by <see cref="CompareTo"/>.</summary>
    public static bool operator <=(CidrRange left, CidrRange right) => left.CompareTo(right) <= 0;

    /// <summary>Compares by <see cref="CompareTo"/>.</summary>
    public static bool operator >(CidrRange left, CidrRange right) => left.CompareTo(right) > 0;

    /// <summary>Compares by <see cref="CompareTo"/>.</summary>
    public static bool operator >=(CidrRange left, CidrRange right) => left.CompareTo(right) >= 0;

    /// <summary>Canonical text: <c>10.0.0.0/8</c>, <c>2001:db8::/32</c> (RFC 5952: lower case, longest zero run compressed).</summary>
    public override string ToString()
    {
        Span<char> text = stackalloc char[MaxTextLength];
        return new string(text[..Format(text)]);
    }

    /// <summary>The longest text <see cref="Format"/> writes: a full IPv6 address and <c>/128</c>.</summary>
    public const int MaxTextLength = 43;

    /// <summary>Writes <see cref="ToString"/>'s text into <paramref name="destination"/> (at least <see cref="MaxTextLength"/> chars) and returns its length: no allocation.</summary>
    public int Format(Span<char> destination)
    {
        int length = _kind switch
        {
            KindV4 => WriteV4((uint)Bits, destination),
            KindV6 => WriteV6(Bits, destination),
            _ => 0,
        };
        if (length == 0)
        {
            return 0;
        }

        destination[length++] = '/';
        return length + WriteSmallDecimal(_prefixLength, destination[length..]);
    }

    internal static CidrRange CreateV4Unchecked(uint network, int prefixLength) => new(network, prefixLength, KindV4);

    // Set algebra on IPv6 intervals stays in the IPv6 space: a block it happens to produce at ::ffff:0:0/96
    // is a piece of a wider IPv6 range, not an IPv4 range someone wrote.
    internal static CidrRange CreateV6Raw(UInt128 network, int prefixLength) => new(network, prefixLength, KindV6);

    internal static CidrRange CreateV6Unchecked(UInt128 network, int prefixLength)
    {
        if (prefixLength >= 96 && IPv4Mapped.IsMapped(network))
        {
            return new CidrRange((uint)network, prefixLength - 96, KindV4);
        }

        return new CidrRange(network, prefixLength, KindV6);
    }

    /// <summary>The host bits of a prefix of the given length in an address of <paramref name="width"/> bits.</summary>
    internal static UInt128 HostMask(int width, int prefixLength) =>
        prefixLength >= width ? UInt128.Zero : UInt128.MaxValue >> (128 - width + prefixLength);

    // Returns null on success, else the reason the text is not a range.
    private static string? TryParseCore(string? text, out CidrRange range)
    {
        range = default;
        if (text is null)
        {
            return "entry is null";
        }

        ReadOnlySpan<char> s = text.AsSpan().Trim();
        if (s.IsEmpty)
        {
            return "empty entry";
        }

        foreach (char ch in s)
        {
            if (char.IsWhiteSpace(ch))
            {
                return "contains whitespace";
            }
        }

        if (s.Contains('%'))
        {
            return "zone ids are not allowed in a range";
        }

        int slash = s.IndexOf('/');
        ReadOnlySpan<char> addressText = slash < 0 ? s : s[..slash];
        bool isV6 = addressText.Contains(':');

        UInt128 bits;
        if (isV6)
        {
            if (!TryParseV6(addressText, out bits))
            {
                return $"'{addressText}' is not a valid IPv6 address";
            }
        }
        else
        {
            if (!TryParseV4(addressText, out uint v4))
            {
                return $"'{addressText}' is not a canonical dotted-quad IPv4 address";
            }

            bits = v4;
        }

        int width = isV6 ? 128 : 32;
        if (slash < 0)
        {
            return $"missing prefix length (a single address is written {addressText}/{width})";
        }

        ReadOnlySpan<char> prefixText = s[(slash + 1)..];
        if (prefixText.IsEmpty)
        {
            return "missing prefix length after '/'";
        }

        if (prefixText.Contains('/'))
        {
            return "more than one '/'";
        }

        foreach (char ch in prefixText)
        {
            if (ch is < '0' or > '9')
            {
                return $"prefix length '{prefixText}' is not a plain decimal number";
            }
        }

        if (prefixText.Length > 1 && prefixText[0] == '0')
        {
            return $"prefix length '{prefixText}' has leading zeros";
        }

        if (prefixText.Length > 3 || int.Parse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture) > width)
        {
            return $"prefix length {prefixText} is out of range for {(isV6 ? "IPv6" : "IPv4")} (0-{width})";
        }

        int prefixLength = int.Parse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture);
        UInt128 host = HostMask(width, prefixLength);
        if ((bits & host) != 0)
        {
            string suggestion = isV6 ? FormatV6(bits & ~host) : FormatV4((uint)(bits & ~host));
            return $"host bits are set (did you mean {suggestion}/{prefixLength}?)";
        }

        range = isV6 ? CreateV6Unchecked(bits, prefixLength) : CreateV4Unchecked((uint)bits, prefixLength);
        return null;
    }

    // Only the canonical dotted quad: IPAddress.Parse would accept "10.1" or "010.0.0.0" (octal) and mean
    // something other than what an operator typed.
    internal static bool TryParseV4(ReadOnlySpan<char> s, out uint value)
    {
        value = 0;
        int octets = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            int octet = 0;
            while (i < s.Length && s[i] is >= '0' and <= '9')
            {
                octet = (octet * 10) + (s[i] - '0');
                i++;
                if (i - start > 3)
                {
                    return false;
                }
            }

            int digits = i - start;
            if (digits == 0 || (digits > 1 && s[start] == '0') || octet > 255)
            {
                return false;
            }

            value = (value << 8) | (uint)octet;
            octets++;
            if (i == s.Length)
            {
                return octets == 4;
            }

            if (s[i] != '.' || octets == 4)
            {
                return false;
            }

            i++;
        }
    }

    private static bool TryParseV6(ReadOnlySpan<char> s, out UInt128 value)
    {
        value = default;
        foreach (char ch in s)
        {
            if (!char.IsAsciiHexDigit(ch) && ch != ':' && ch != '.')
            {
                return false;
            }
        }

        int dot = s.IndexOf('.');
        if (dot >= 0)
        {
            int lastColon = s.LastIndexOf(':');
            if (lastColon > dot || !TryParseV4(s[(lastColon + 1)..], out _))
            {
                return false;
            }
        }

        if (!IPAddress.TryParse(s, out var address) || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        value = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return true;
    }

    internal static string FormatV4(uint value)
    {
        Span<char> text = stackalloc char[15];
        return new string(text[..WriteV4(value, text)]);
    }

    internal static string FormatV6(UInt128 value)
    {
        Span<char> text = stackalloc char[39];
        return new string(text[..WriteV6(value, text)]);
    }

    private static int WriteV4(uint value, Span<char> text)
    {
        int length = 0;
        for (int shift = 24; shift >= 0; shift -= 8)
        {
            if (shift != 24)
            {
                text[length++] = '.';
            }

            length += WriteSmallDecimal((value >> shift) & 0xFF, text[length..]);
        }

        return length;
    }

    // Octets, prefix lengths and hex groups are written digit by digit: a compile formats every range of every
    // tenant, and the general number formatting (culture, format string) was a tenth of that.
    private static int WriteSmallDecimal(uint value, Span<char> text)
    {
        if (value >= 100)
        {
            text[0] = (char)('0' + (value / 100));
            text[1] = (char)('0' + (value / 10 % 10));
            text[2] = (char)('0' + (value % 10));
            return 3;
        }
        if (value >= 10)
        {
            text[0] = (char)('0' + (value / 10));
            text[1] = (char)('0' + (value % 10));
            return 2;
        }
        text[0] = (char)('0' + value);
        return 1;
    }

    private static int WriteHexGroup(ushort value, Span<char> text)
    {
        int digits = value >= 0x1000 ? 4 : value >= 0x100 ? 3 : value >= 0x10 ? 2 : 1;
        for (int i = digits - 1; i >= 0; i--)
        {
            text[i] = "0123456789abcdef"[value & 0xF];
            value >>= 4;
        }

        return digits;
    }

    // RFC 5952 by hand: the BCL prints IPv4-compatible forms ("::1.2.3.4") that Envoy and people read differently.
    private static int WriteV6(UInt128 value, Span<char> text)
    {
        Span<ushort> groups = stackalloc ushort[8];
        for (int i = 0; i < 8; i++)
        {
            groups[i] = (ushort)(value >> (112 - (16 * i)));
        }

        int bestStart = -1, bestLength = 0;
        for (int i = 0; i < 8;)
        {
            if (groups[i] != 0)
            {
                i++;
                continue;
            }

            int j = i;
            while (j < 8 && groups[j] == 0)
            {
                j++;
            }

            if (j - i > bestLength)
            {
                bestStart = i;
                bestLength = j - i;
            }

            i = j;
        }

        if (bestLength < 2)
        {
            bestStart = -1;
        }

        int length = 0;
        for (int i = 0; i < 8; i++)
        {
            if (i == bestStart)
            {
                text[length++] = ':';
                text[length++] = ':';
                i += bestLength - 1;
                continue;
            }

            if (length > 0 && text[length - 1] != ':')
            {
                text[length++] = ':';
            }

            int written = WriteHexGroup(groups[i], text[length..]);
            length += written;
        }

        return length;
    }

    private static byte[] ToBytes4(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    private static byte[] ToBytes16(UInt128 value)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return bytes;
    }
}
