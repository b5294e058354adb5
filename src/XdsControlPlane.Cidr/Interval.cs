namespace XdsControlPlane.Cidr;

/// <summary>An inclusive address interval, host order; IPv4 uses the low 32 bits.</summary>
internal readonly record struct Interval(UInt128 Start, UInt128 End);
