using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace XdsControlPlane.Cidr;

/// <summary>Lookup over merged IPv6 intervals; same shape as <see cref="V4Index"/>.</summary>
internal sealed class V6Index
{
    private const int MaxBucketBits = 17;
    private const int BucketsPerIntervalBits = 0;

    private readonly UInt128[] _ends;
    private readonly UInt128[] _starts;
    private readonly int[] _buckets;
    private readonly UInt128 _min;
    private readonly UInt128 _span;
    private readonly int _shift;

    public V6Index(Interval[] merged)
    {
        int n = merged.Length;
        _ends = new UInt128[n];
        _starts = new UInt128[n];
        for (int i = 0; i < n; i++)
        {
            _ends[i] = merged[i].End;
            _starts[i] = merged[i].Start;
        }

        _min = _starts[0];
        _span = _ends[n - 1] - _min;
        int bucketBits = Math.Min(MaxBucketBits, BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)n)) + BucketsPerIntervalBits);
        int spanBits = 128 - (int)UInt128.LeadingZeroCount(_span);
        _shift = Math.Clamp(spanBits - bucketBits, 0, 127);
        int bucketCount = (int)(_span >> _shift) + 1;
        _buckets = new int[bucketCount + 1];
        int p = 0;
        for (int b = 0; b < bucketCount; b++)
        {
            UInt128 bucketStart = _min + ((UInt128)(uint)b << _shift);
            while (_ends[p] < bucketStart)
            {
                p++;
            }

            _buckets[b] = p;
        }

        _buckets[bucketCount] = n - 1;
    }

    public int SizeInBytes => (_ends.Length * 32) + (_buckets.Length * sizeof(int));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(UInt128 address)
    {
        UInt128 offset = address - _min;
        if (offset > _span)
        {
            return false;
        }

        ref int buckets = ref MemoryMarshal.GetArrayDataReference(_buckets);
        int bucket = (int)(offset >> _shift);
        int lo = Unsafe.Add(ref buckets, bucket);
        int hi = Unsafe.Add(ref buckets, bucket + 1);
        ref UInt128 ends = ref MemoryMarshal.GetArrayDataReference(_ends);
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (Unsafe.Add(ref ends, mid) < address)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return Unsafe.Add(ref ends, lo) >= address
            && Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_starts), lo) <= address;
    }
}
