namespace XdsControlPlane.Cidr;

/// <summary>An inclusive address interval, host order; IPv4 uses the low 32 bits.</summary>
internal readonly record struct Interval(UInt128 Start, UInt128 End);

/// <summary>
/// Set algebra on sorted, disjoint, non-adjacent ("merged") interval lists. Working in intervals rather
/// than prefixes makes every operation a linear sweep; prefixes are produced only at the end.
/// </summary>
internal static class Intervals
{
    public static UInt128 MaxValue(int width) => width == 32 ? uint.MaxValue : UInt128.MaxValue;

    /// <summary>Sorts in place by start and merges overlapping and adjacent intervals.</summary>
    public static Interval[] SortAndMerge(UInt128[] starts, UInt128[] ends, int width)
    {
        Array.Sort(starts, ends);
        return MergeSorted(starts, ends, width);
    }

    /// <summary>IPv4 fast path: one ulong per interval sorts several times faster than keyed UInt128 pairs.</summary>
    public static Interval[] SortAndMerge(ulong[] packedStartEnd)
    {
        Array.Sort(packedStartEnd);
        var merged = new Interval[packedStartEnd.Length];
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

            merged[count++] = new Interval(start, end);
        }

        return Exact(merged, count);
    }

    // Usually nothing merges: the array written is the result, with no second copy.
    private static Interval[] Exact(Interval[] merged, int count) => count == merged.Length ? merged : merged[..count];

    private static Interval[] MergeSorted(UInt128[] starts, UInt128[] ends, int width)
    {
        UInt128 max = MaxValue(width);
        var merged = new Interval[starts.Length];
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

            merged[count++] = new Interval(start, end);
        }

        return Exact(merged, count);
    }

    /// <summary>Merges two merged lists into one.</summary>
    public static Interval[] Union(Interval[] a, Interval[] b, int width)
    {
        var starts = new UInt128[a.Length + b.Length];
        var ends = new UInt128[starts.Length];
        int k = 0;
        foreach (var x in a)
        {
            starts[k] = x.Start;
            ends[k++] = x.End;
        }

        foreach (var x in b)
        {
            starts[k] = x.Start;
            ends[k++] = x.End;
        }

        return SortAndMerge(starts, ends, width);
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

    /// <summary>True when every interval of <paramref name="inner"/> lies within one interval of <paramref name="outer"/>.</summary>
    public static bool Covers(Interval[] outer, Interval[] inner)
    {
        int i = 0;
        foreach (var x in inner)
        {
            while (i < outer.Length && outer[i].End < x.Start)
            {
                i++;
            }

            // Merged lists have gaps between intervals, so x must fit entirely inside outer[i].
            if (i == outer.Length || outer[i].Start > x.Start || outer[i].End < x.End)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Appends the minimal list of prefixes exactly covering each interval, in address order.</summary>
    public static void ToPrefixes(Interval[] intervals, int width, List<CidrRange> output)
    {
        UInt128 max = MaxValue(width);
        foreach (var interval in intervals)
        {
            UInt128 start = interval.Start;
            while (true)
            {
                UInt128 remainingMinusOne = interval.End - start;
                int sizeBits = remainingMinusOne == max
                    ? width
                    : 127 - (int)UInt128.LeadingZeroCount(remainingMinusOne + 1);
                int alignBits = start == 0 ? width : (int)UInt128.TrailingZeroCount(start);
                int hostBits = Math.Min(Math.Min(sizeBits, alignBits), width);
                int prefixLength = width - hostBits;
                output.Add(width == 32
                    ? CidrRange.CreateV4Unchecked((uint)start, prefixLength)
                    : CidrRange.CreateV6Raw(start, prefixLength));
                UInt128 blockEnd = start | CidrRange.HostMask(width, prefixLength);
                if (blockEnd >= interval.End)
                {
                    break;
                }

                start = blockEnd + 1;
            }
        }
    }
}
