using System.Buffers;
using System.Buffers.Binary;
using System.Collections.ObjectModel;
using System.Net;
using System.Runtime.CompilerServices;

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
    // Up to this many ranges of a family, normalising keeps its scratch intervals on the stack (a tenant's
    // list is about twenty); beyond, they are rented, so building leaves only the set itself behind.
    private const int StackallocLimit = 64;

    // Thousands of sets stay alive (one per tenant), so a set keeps each fact once: the ranges as given,
    // and the normalised prefixes, which are the same array when the input was already normalised. The
    // merged intervals, the lookup indexes and the read-only views are derived from those when first used.
    private readonly CidrRange[] _ranges;
    private readonly CidrRange[] _normalized;
    // Normalised prefixes are sorted IPv4 first: this count splits the families without a scan, and lets a
    // lookup in a family the set lacks return after one load.
    private readonly int _normalizedV4Count;
    private ReadOnlyCollection<CidrRange>? _rangesView;
    private ReadOnlyCollection<CidrRange>? _normalizedView;
    // Built on first lookup: most sets (a tenant's list at compile time) are normalised and never queried.
    private V4Index? _v4Index;
    private V6Index? _v6Index;
    private MatchIndex? _matchIndex;

    private CidrSet(CidrRange[] ranges, CidrRange[] normalized)
    {
        _ranges = ranges;
        _normalized = ReferenceEquals(normalized, ranges) || normalized.AsSpan().SequenceEqual(ranges) ? ranges : normalized;
        _normalizedV4Count = CountIPv4(normalized);
    }

    /// <summary>The set with no ranges; it contains nothing.</summary>
    public static CidrSet Empty { get; } = new([], []);

    /// <summary>The original ranges, in the order given, duplicates kept.</summary>
    public IReadOnlyList<CidrRange> Ranges => ReferenceEquals(_ranges, _normalized) ? Normalized : View(ref _rangesView, _ranges);

    /// <summary>
    /// The minimal exact list of prefixes covering the same addresses as <see cref="Ranges"/>: duplicates,
    /// nested and adjacent ranges are merged, and a supernet is used only when its whole space is covered.
    /// Sorted by <see cref="CidrRange.CompareTo"/>.
    /// </summary>
    public IReadOnlyList<CidrRange> Normalized => View(ref _normalizedView, _normalized);

    /// <summary>True when the set contains no address.</summary>
    public bool IsEmpty => _normalized.Length == 0;

    /// <summary>Approximate bytes held by the lookup arrays (not the original or normalised lists).</summary>
    public long LookupSizeInBytes => (V4?.SizeInBytes ?? 0) + (V6?.SizeInBytes ?? 0);

    private V4Index? V4 => _v4Index ?? (_normalizedV4Count == 0 ? null : CreateV4Index());

    private V6Index? V6 => _v6Index ?? (_normalizedV4Count == _normalized.Length ? null : CreateV6Index());

    private ReadOnlySpan<CidrRange> NormalizedV4 => _normalized.AsSpan(0, _normalizedV4Count);

    private ReadOnlySpan<CidrRange> NormalizedV6 => _normalized.AsSpan(_normalizedV4Count);

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

        foreach (var r in copy)
        {
            if (r.IsDefault)
            {
                throw new ArgumentException("default(CidrRange) is not a range", nameof(ranges));
            }
        }

        return new CidrSet(copy, Normalize(copy, []));
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
        if (other._ranges.Length == 0)
        {
            return this;
        }

        if (_ranges.Length == 0)
        {
            return other;
        }

        // The normalised lists cover the same addresses as the ranges and are never longer.
        return new CidrSet([.. _ranges, .. other._ranges], Normalize(_normalized, other._normalized));
    }

    /// <summary>
    /// Every address in this set and not in <paramref name="other"/>, exactly: prefixes are split as needed.
    /// The result's <see cref="Ranges"/> is its normalised list.
    /// </summary>
    public CidrSet Except(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var v4 = Intervals.Subtract(Intervals.FromPrefixes(NormalizedV4), Intervals.FromPrefixes(other.NormalizedV4));
        var v6 = Intervals.Subtract(Intervals.FromPrefixes(NormalizedV6), Intervals.FromPrefixes(other.NormalizedV6));
        var prefixes = Intervals.ToPrefixes(v4, v6);
        return prefixes.Length == 0 ? Empty : new CidrSet(prefixes, prefixes);
    }

    /// <summary>True when every address of <paramref name="other"/> is in this set (an empty set is covered by any set).</summary>
    public bool Covers(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);

        // A normalised list has no two sibling prefixes, so a prefix covered by the list is inside one of
        // its prefixes (were it tiled by smaller ones, the smallest tile's sibling would be a tile too):
        // comparing prefixes is enough, with no intervals to rebuild.
        var outer = _normalized;
        int i = 0;
        foreach (var inner in other._normalized)
        {
            // Both lists are sorted and disjoint: one of ours that sorts before inner and does not contain
            // it ends before it, and so before every later one.
            while (i < outer.Length && outer[i].CompareTo(inner) < 0 && !outer[i].Contains(inner))
            {
                i++;
            }

            if (i == outer.Length || !outer[i].Contains(inner))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when both sets contain exactly the same addresses, however their ranges were written.</summary>
    public bool SetEquals(CidrSet other)
    {
        ArgumentNullException.ThrowIfNull(other);

        // The minimal prefix list of a set of addresses is unique.
        return _normalized.AsSpan().SequenceEqual(other._normalized);
    }

    /// <summary>The normalised ranges, comma-separated.</summary>
    public override string ToString() => string.Join(", ", Normalized);

    // Racing threads may each build an index; they are equal and the reference write is atomic. Out of
    // line so that the lookup's fast path stays small enough to inline.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private V4Index CreateV4Index() => _v4Index = new V4Index(Intervals.FromPrefixes(NormalizedV4));

    [MethodImpl(MethodImplOptions.NoInlining)]
    private V6Index CreateV6Index() => _v6Index = new V6Index(Intervals.FromPrefixes(NormalizedV6));

    private static ReadOnlyCollection<CidrRange> View(ref ReadOnlyCollection<CidrRange>? field, CidrRange[] items)
    {
        if (field is { } existing)
        {
            return existing;
        }

        // Readers that race here all get the instance that won, so a set's lists keep one identity.
        var view = new ReadOnlyCollection<CidrRange>(items);
        return Interlocked.CompareExchange(ref field, view, null) ?? view;
    }

    private static int CountIPv4(ReadOnlySpan<CidrRange> ranges)
    {
        int count = 0;
        foreach (var r in ranges)
        {
            count += r.IsIPv4 ? 1 : 0;
        }

        return count;
    }

    /// <summary>The normalised prefixes of the ranges of both spans, in an array of exactly that size.</summary>
    private static CidrRange[] Normalize(ReadOnlySpan<CidrRange> first, ReadOnlySpan<CidrRange> second)
    {
        int v4Count = CountIPv4(first) + CountIPv4(second);
        int v6Count = first.Length + second.Length - v4Count;

        // The intervals are scratch: on the stack for a typical list, from the pool for a large one.
        ulong[]? rentedV4 = null;
        UInt128[]? rentedStarts = null;
        UInt128[]? rentedEnds = null;
        Span<ulong> packed4 = v4Count <= StackallocLimit
            ? stackalloc ulong[StackallocLimit]
            : (rentedV4 = ArrayPool<ulong>.Shared.Rent(v4Count));
        Span<UInt128> starts6 = v6Count <= StackallocLimit
            ? stackalloc UInt128[StackallocLimit]
            : (rentedStarts = ArrayPool<UInt128>.Shared.Rent(v6Count));
        Span<UInt128> ends6 = v6Count <= StackallocLimit
            ? stackalloc UInt128[StackallocLimit]
            : (rentedEnds = ArrayPool<UInt128>.Shared.Rent(v6Count));

        int i4 = 0, i6 = 0;
        for (int part = 0; part < 2; part++)
        {
            foreach (var r in part == 0 ? first : second)
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
        }

        int merged4 = Intervals.SortAndMerge(packed4[..v4Count]);
        int merged6 = Intervals.SortAndMerge(starts6[..v6Count], ends6[..v6Count], 128);

        // Counting first gives the exact size: the list is kept for the set's lifetime, so no slack.
        int count = 0;
        for (int i = 0; i < merged4; i++)
        {
            count += Intervals.CountPrefixes((uint)(packed4[i] >> 32), (uint)packed4[i], 32);
        }

        for (int i = 0; i < merged6; i++)
        {
            count += Intervals.CountPrefixes(starts6[i], ends6[i], 128);
        }

        var normalized = new CidrRange[count];
        int written = 0;
        for (int i = 0; i < merged4; i++)
        {
            written += Intervals.WritePrefixes((uint)(packed4[i] >> 32), (uint)packed4[i], 32, normalized.AsSpan(written));
        }

        for (int i = 0; i < merged6; i++)
        {
            written += Intervals.WritePrefixes(starts6[i], ends6[i], 128, normalized.AsSpan(written));
        }

        if (rentedV4 is not null)
        {
            ArrayPool<ulong>.Shared.Return(rentedV4);
        }

        if (rentedStarts is not null)
        {
            ArrayPool<UInt128>.Shared.Return(rentedStarts);
            ArrayPool<UInt128>.Shared.Return(rentedEnds!);
        }

        return normalized;
    }

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
