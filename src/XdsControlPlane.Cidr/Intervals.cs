namespace XdsControlPlane.Cidr;

/// <summary>
/// Set algebra on sorted, disjoint, non-adjacent ("merged") interval lists. Working in intervals rather
/// than prefixes makes every operation a linear sweep; prefixes are produced only at the end. A set keeps
/// only its prefixes: the intervals are rebuilt from them when an operation needs them.
/// </summary>
internal static class Intervals
{
    public static UInt128 MaxValue(int width) => width == 32 ? uint.MaxValue : UInt128.MaxValue;

    /// <summary>
    /// IPv4: sorts <c>(start &lt;&lt; 32) | end</c> values and merges overlapping and adjacent intervals in
    /// place; returns how many merged intervals lead the span. One ulong per interval sorts several times
    /// faster than keyed UInt128 pairs.
    /// </summary>
    public static int SortAndMerge(Span<ulong> packedStartEnd)
    {
        packedStartEnd.Sort();
        int count = 0;
        int i = 0;
        while (i < packedStartEnd.Length)
        {
            uint start = (uint)(packedStartEnd[i] >> 32);
            uint end = (uint)packedStartEnd[i];
            i++;
            while (i < packedStartEnd.Length && end != uint.MaxValue && (uint)(packedStartEnd[i] >> 32) <= end + 1)
            {
                end = Math.Max(end, (uint)packedStartEnd[i]);
                i++;
            }

            if (end == uint.MaxValue)
            {
                i = packedStartEnd.Length;
            }

            // count < i: the merged interval never overwrites one not yet read.
            packedStartEnd[count++] = ((ulong)start << 32) | end;
        }

        return count;
    }

    /// <summary>
    /// Sorts by start and merges overlapping and adjacent intervals in place; returns how many merged
    /// intervals lead the spans.
    /// </summary>
    public static int SortAndMerge(Span<UInt128> starts, Span<UInt128> ends, int width)
    {
        starts.Sort(ends);
        UInt128 max = MaxValue(width);
        int count = 0;
        int i = 0;
        while (i < starts.Length)
        {
            UInt128 start = starts[i];
            UInt128 end = ends[i];
            i++;
            while (i < starts.Length && end != max && starts[i] <= end + 1)
            {
                if (ends[i] > end)
                {
                    end = ends[i];
                }

                i++;
            }

            if (end == max)
            {
                i = starts.Length;
            }

            starts[count] = start;
            ends[count++] = end;
        }

        return count;
    }

    /// <summary>
    /// The merged intervals of a normalised prefix list of one family: the prefixes of one interval are
    /// adjacent, and those of different intervals never are, so joining adjacent prefixes is exact.
    /// </summary>
    public static Interval[] FromPrefixes(ReadOnlySpan<CidrRange> prefixes)
    {
        var merged = new Interval[prefixes.Length];
        int count = 0;
        foreach (var prefix in prefixes)
        {
            // IPv4 ends are at most uint.MaxValue, so only an IPv6 end can have no successor.
            if (count > 0 && merged[count - 1].End != UInt128.MaxValue && prefix.First == merged[count - 1].End + 1)
            {
                merged[count - 1] = merged[count - 1] with { End = prefix.Last };
            }
            else
            {
                merged[count++] = new Interval(prefix.First, prefix.Last);
            }
        }

        return count == merged.Length ? merged : merged[..count];
    }

    /// <summary>Addresses in <paramref name="a"/> and not in <paramref name="b"/>; both merged.</summary>
    public static Interval[] Subtract(Interval[] a, Interval[] b)
    {
        var result = new List<Interval>(a.Length);
        int j = 0;
        foreach (var x in a)
        {
            UInt128 start = x.Start;
            bool alive = true;
            while (j < b.Length && b[j].End < start)
            {
                j++;
            }

            int k = j;
            while (alive && k < b.Length && b[k].Start <= x.End)
            {
                if (b[k].Start > start)
                {
                    result.Add(new Interval(start, b[k].Start - 1));
                }

                if (b[k].End >= x.End)
                {
                    alive = false;
                }
                else
                {
                    start = b[k].End + 1;
                    k++;
                }
            }

            if (alive)
            {
                result.Add(new Interval(start, x.End));
            }
        }

        return [.. result];
    }

    /// <summary>The minimal prefixes of IPv4 then IPv6 merged intervals, in address order, in an array of exactly that size.</summary>
    public static CidrRange[] ToPrefixes(ReadOnlySpan<Interval> v4, ReadOnlySpan<Interval> v6)
    {
        int count = 0;
        foreach (var interval in v4)
        {
            count += CountPrefixes(interval.Start, interval.End, 32);
        }

        foreach (var interval in v6)
        {
            count += CountPrefixes(interval.Start, interval.End, 128);
        }

        var output = new CidrRange[count];
        int written = 0;
        foreach (var interval in v4)
        {
            written += WritePrefixes(interval.Start, interval.End, 32, output.AsSpan(written));
        }

        foreach (var interval in v6)
        {
            written += WritePrefixes(interval.Start, interval.End, 128, output.AsSpan(written));
        }

        return output;
    }

    /// <summary>How many prefixes <see cref="WritePrefixes"/> writes for the interval.</summary>
    public static int CountPrefixes(UInt128 start, UInt128 end, int width)
    {
        UInt128 max = MaxValue(width);
        int count = 0;
        while (true)
        {
            count++;
            UInt128 blockEnd = start | CidrRange.HostMask(width, NextPrefixLength(start, end, width, max));
            if (blockEnd >= end)
            {
                return count;
            }

            start = blockEnd + 1;
        }
    }

    /// <summary>Writes the minimal list of prefixes exactly covering the interval, in address order; returns how many.</summary>
    public static int WritePrefixes(UInt128 start, UInt128 end, int width, Span<CidrRange> destination)
    {
        UInt128 max = MaxValue(width);
        int count = 0;
        while (true)
        {
            int prefixLength = NextPrefixLength(start, end, width, max);
            destination[count++] = width == 32
                ? CidrRange.CreateV4Unchecked((uint)start, prefixLength)
                : CidrRange.CreateV6Raw(start, prefixLength);
            UInt128 blockEnd = start | CidrRange.HostMask(width, prefixLength);
            if (blockEnd >= end)
            {
                return count;
            }

            start = blockEnd + 1;
        }
    }

    // The largest block that starts at start (alignment) and does not pass end (size).
    private static int NextPrefixLength(UInt128 start, UInt128 end, int width, UInt128 max)
    {
        UInt128 remainingMinusOne = end - start;
        int sizeBits = remainingMinusOne == max
            ? width
            : 127 - (int)UInt128.LeadingZeroCount(remainingMinusOne + 1);
        int alignBits = start == 0 ? width : (int)UInt128.TrailingZeroCount(start);
        return width - Math.Min(Math.Min(sizeBits, alignBits), width);
    }
}
