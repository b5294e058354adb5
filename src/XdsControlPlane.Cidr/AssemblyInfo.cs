using System.Runtime.CompilerServices;

// Contains(IPAddress) stackallocs an address buffer per call; zeroing it is pure overhead on the hot path.
[module: SkipLocalsInit]
