namespace XdsControlPlane.Server.Debug;

/// <param name="ManagedHeapBytes">The GC heap after the last collection, fragmentation (free blocks) included.</param>
/// <param name="ManagedCommittedBytes">Memory the GC has committed: the heap plus what it keeps for allocations to come.</param>
/// <param name="HeapHardLimitBytes">What the GC may use: its hard limit (75% of a container's memory limit by default), else the machine's memory.</param>
/// <param name="Gc">The GC's own settings as it runs (GC.GetConfigurationVariables: ServerGC, HeapCount, DATAS, ConserveMemory, ...).</param>
public sealed record MemoryView(
    long ResidentBytes,
    long PeakResidentBytes,
    long ManagedHeapBytes,
    long ManagedFragmentedBytes,
    long ManagedCommittedBytes,
    long ManagedLiveBytesAtLastCollection,
    long HeapHardLimitBytes,
    long AllocatedSinceStartBytes,
    int[] Collections,
    double PauseTimePercentage,
    bool ServerGc,
    string LatencyMode,
    IReadOnlyDictionary<string, string> Gc);
