using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Net;

namespace XdsControlPlane.Cidr;

/// <summary>
/// An immutable, precompiled set of CIDR ranges. Building it normalises the ranges into merged address
/// intervals and compiles them into flat lookup arrays; after that it is read-only and safe for any
/// number of concurrent readers.
/// </summary>
/// <remarks>
/// IPv4-mapped IPv6 addresses (<c>::ffff:a.b.c.d</c>) are looked up as IPv4 everywhere, so an IPv6 range
/// that spans <c>::ffff:0:0/96</c> (for example <c>::/0</c>) does not match them; write the IPv4 range.
/// </remarks>
public sealed class CidrSet
{
    private readonly CidrRange[] _ranges;
    private readonly Interval[] _v4;
    private readonly Interval[] _v6;
    // Built on first lookup: most sets (a tenant's list at compile time) are normalised and never queried.
    private V4Index? _v4Index;
    private V6Index? _v6Index;
    private ReadOnlyCollection<CidrRange>? _normalized;
    private MatchIndex? _matchIndex;

    private CidrSet(CidrRange[] ranges, Interval[] v4, Interval[] v6)
    {
        _ranges = ranges;
        _v4 = v4;
        _v6 = v6;
        Ranges = Array.AsReadOnly(ranges);
    }

    /// <summary>The set with no ranges; it contains nothing.</summary>
    public static CidrSet Empty { get; } = new([], [], []);

    /// <summary>The original ranges, in the order given, duplicates kept.</summary>
    public IReadOnlyList<CidrRange> Ranges { get; }

    /// <summary>
    /// The minimal exact list of prefixes covering the same addresses as <see cref="Ranges"/>: duplicates,
    /// nested and adjacent ranges are merged, and a supernet is used only when its whole space is covered.
    /// Sorted by <see cref="CidrRange.CompareTo"/>.
    /// </summary>
    public IReadOnlyList<CidrRange> Normalized => _normalized ?? LazyInitializer.EnsureInitialized(ref _normalized, () =>
    {
        var output = new List<CidrRange>(_v4.Length + _v6.Length);
        Intervals.ToPrefixes(_v4, 32, output);
        Intervals.ToPrefixes(_v6, 128, output);
        return output.AsReadOnly();
    });

    /// <summary>True when the set contains no address.</summary>
    public bool IsEmpty => _v4.Length == 0 && _v6.Length == 0;

    /// <summary>Approximate bytes held by the lookup arrays (not the original or normalised lists).</summary>
    public long LookupSizeInBytes => (V4?.SizeInBytes ?? 0) + (V6?.SizeInBytes ?? 0);

    // Racing threads may each build an index; they are equal and the reference write is atomic.
    private V4Index? V4 => _v4Index ?? (_v4.Length == 0 ? null : _v4Index = new V4Index(_v4));

    private V6Index? V6 => _v6Index ?? (_v6.Length == 0 ? null : _v6Index = new V6Index(_v6));

    /// <summary>Builds a set from ranges.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="ranges"/> is null.</exception>
    /// <exception cref="ArgumentException">A range is <c>default(CidrRange)</c>.</exception>
    public static CidrSet Build(IEnumerable<CidrRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        CidrRange[] copy = [.. ranges];
        if (copy.Length == 0)
        {
            return Empty;
        }

        int v4Count = 0;
        foreach (var r in copy)
        {
            if (r.IsDefault)
            {
                throw new ArgumentException("default(CidrRange) is not a range", nameof(ranges));
            }

            if (r.IsIPv4)
            {
                v4Count++;
            }
        }

        var packed4 = new ulong[v4Count];
        var starts6 = new UInt128[copy.Length - v4Count];
        var ends6 = new UInt128[starts6.Length];
        int i4 = 0, i6 = 0;
        foreach (var r in copy)
        {
            if (r.IsIPv4)
            {
                packed4[i4++] = ((ulong)(uint)r.First << 32) | (uint)r.Last;
            }
            else
            {
                starts6[i6] = r.First;
                ends6[i6++] = r.Last;
            }
        }

        return new CidrSet(copy, Intervals.SortAndMerge(packed4), Intervals.SortAndMerge(starts6, ends6, 128));
    }

    /// <summary>Parses every entry strictly (see <see cref="CidrRange.TryParse"/>) and builds a set.</summary>
    /// <exception cref="CidrFormatException">The first bad entry, with its <see cref="CidrFormatException.Index"/>.</exception>
    public static CidrSet Parse(IEnumerable<string> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var ranges = new List<CidrRange>();
        int index = 0;
        foreach (string entry in entries)
        {
            ranges.Add(CidrRange.Parse(entry, index++));
        }

        return Build(ranges);
    }

    /// <summary>
    /// Parses every entry and reports all bad ones at once, so an operator can fix a list in one go.
    /// </summary>
    /// <returns>True with the set when every entry is valid; false with one exception per bad entry.</returns>
    public static bool TryParse(IEnumerable<string> entries, out CidrSet set, out IReadOnlyList<CidrFormatException> errors)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var ranges = new List<CidrRange>();
        var problems = new List<CidrFormatException>();
        int index = 0;
        foreach (string entry in entries)
        {
            try
            {
                ranges.Add(CidrRange.Parse(entry, index));
            }
            catch (CidrFormatException e)
            {
                problems.Add(e);
            }

            index++;
        }

        errors = problems;
        set = problems.Count == 0 ? Build(ranges) : Empty;
        return problems.Count == 0;
    }

    /// <summary>True when the address is in the set. Does not allocate. IPv4-mapped IPv6 addresses match IPv4 ranges.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            return false;
        }

        return written == 4
            ? Contains(BinaryPrimitives.ReadUInt32BigEndian(bytes))
            : Contains(BinaryPrimitives.ReadUInt128BigEndian(bytes));
    }

    /// <summary>True when the IPv4 address, host order (10.0.0.1 is 0x0A000001), is in the set.</summary>
    public bool Contains(uint ipv4) => V4 is { } index && index.Contains(ipv4);

    /// <summary>True when the IPv6 address, host order, is in the set; <c>::ffff:a.b.c.d</c> is looked up as IPv4.</summary>
    public bool Contains(UInt128 ipv6)
    {
        if (IPv4Mapped.IsMapped(ipv6))
        {
            return Contains((uint)ipv6);
        }

        return V6 is { } index && index.Contains(ipv6);
    }

    /// <summary>True when the address, 4 or 16 bytes in network order, is in the set.</summary>
    /// <exception cref="ArgumentException">The span is neither 4 nor 16 bytes long.</exception>
    public bool Contains(ReadOnlySpan<byte> address) => address.Length switch
    {
        4 => Contains(BinaryPrimitives.ReadUInt32BigEndian(address)),
        16 => Contains(BinaryPrimitives.ReadUInt128BigEndian(address)),
        _ => throw new ArgumentException("an address is 4 or 16 bytes", nameof(address)),
    };

    /// <summary>
    /// Which original ranges contain the address, most specific first (the debug path: correct, allocating,
    /// slower than <see cref="Contains(IPAddress)"/>).
    /// </summary>
    public CidrMatch Match(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out int written))
        {
            return CidrMatch.None;
        }

        var index = _matchIndex ?? LazyInitializer.EnsureInitialized(ref _matchIndex, () => new MatchIndex(_ranges));
        if (written == 4)
        {
            return index.MatchV4(BinaryPrimitives.ReadUInt32BigEndian(bytes));
        }

        UInt128 v6 = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return IPv4Mapped.IsMapped(v6) ? index.MatchV4((uint)v6) : index.MatchV6(v6);
    }

    /// <summary>Every address in either set. <see cref="Ranges"/> is this set's ranges followed by the other's.</summary>
    public CidrSet Union(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.IsEmpty && other._ranges.Length == 0)
        {
            return this;
        }

        if (_ranges.Length == 0)
        {
            return other;
        }

        return new CidrSet(
            [.. _ranges, .. other._ranges],
            Intervals.Union(_v4, other._v4, 32),
            Intervals.Union(_v6, other._v6, 128));
    }

    /// <summary>
    /// Every address in this set and not in <paramref name="other"/>, exactly: prefixes are split as needed.
    /// The result's <see cref="Ranges"/> is its normalised list.
    /// </summary>
    public CidrSet Except(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var v4 = Intervals.Subtract(_v4, other._v4);
        var v6 = Intervals.Subtract(_v6, other._v6);
        var prefixes = new List<CidrRange>();
        Intervals.ToPrefixes(v4, 32, prefixes);
        Intervals.ToPrefixes(v6, 128, prefixes);
        return prefixes.Count == 0 ? Empty : new CidrSet([.. prefixes], v4, v6);
    }

    /// <summary>True when every address of <paramref name="other"/> is in this set (an empty set is covered by any set).</summary>
    public bool Covers(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return Intervals.Covers(_v4, other._v4) && Intervals.Covers(_v6, other._v6);
    }

    /// <summary>True when both sets contain exactly the same addresses, however their ranges were written.</summary>
    public bool SetEquals(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return _v4.AsSpan().SequenceEqual(other._v4) && _v6.AsSpan().SequenceEqual(other._v6);
    }

    /// <summary>The normalised ranges, comma-separated.</summary>
    public override string ToString() => string.Join(", ", Normalized);

    /// <summary>
    /// Distinct original ranges sorted by <see cref="CidrRange.CompareTo"/>, and the prefix lengths in use:
    /// the ranges containing an address are found by one binary search per prefix length.
    /// </summary>
    private sealed class MatchIndex
    {
        private readonly CidrRange[] _sorted;
        private readonly int[] _v4PrefixesDescending;
        private readonly int[] _v6PrefixesDescending;

        public MatchIndex(CidrRange[] ranges)
        {
            _sorted = [.. ranges.Distinct().Order()];
            _v4PrefixesDescending = [.. _sorted.Where(r => r.IsIPv4).Select(r => r.PrefixLength).Distinct().OrderDescending()];
            _v6PrefixesDescending = [.. _sorted.Where(r => r.IsIPv6).Select(r => r.PrefixLength).Distinct().OrderDescending()];
        }

        public CidrMatch MatchV4(uint address)
        {
            List<CidrRange>? matched = null;
            foreach (int prefixLength in _v4PrefixesDescending)
            {
                uint network = address & ~(uint)CidrRange.HostMask(32, prefixLength);
                var candidate = CidrRange.CreateV4Unchecked(network, prefixLength);
                if (Array.BinarySearch(_sorted, candidate) >= 0)
                {
                    (matched ??= []).Add(candidate);
                }
            }

            return matched is null ? CidrMatch.None : new CidrMatch(true, matched.AsReadOnly());
        }

        public CidrMatch MatchV6(UInt128 address)
        {
            List<CidrRange>? matched = null;
            foreach (int prefixLength in _v6PrefixesDescending)
            {
                UInt128 network = address & ~CidrRange.HostMask(128, prefixLength);
                var candidate = CidrRange.CreateV6Raw(network, prefixLength);
                if (Array.BinarySearch(_sorted, candidate) >= 0)
                {
                    (matched ??= []).Add(candidate);
                }
            }

            return matched is null ? CidrMatch.None : new CidrMatch(true, matched.AsReadOnly());
        }
    }
}
