namespace XdsControlPlane.Cidr;

/// <summary>
/// A CIDR entry that is not a valid range. The message names the entry, its position and the reason,
/// e.g. <c>entry 2 '10.0.0.1/8': host bits are set (did you mean 10.0.0.0/8?)</c>.
/// </summary>
public sealed class CidrFormatException : FormatException
{
    /// <summary>Creates the exception for <paramref name="entry"/> at <paramref name="index"/> (-1 for a single value).</summary>
    public CidrFormatException(string entry, int index, string reason)
        : base(FormatMessage(entry, index, reason))
    {
        Entry = entry;
        Index = index;
        Reason = reason;
    }

    /// <summary>The offending text exactly as given.</summary>
    public string Entry { get; }

    /// <summary>The zero-based position of the entry in its list, or -1 when a single value was parsed.</summary>
    public int Index { get; }

    /// <summary>What is wrong, without the entry and position.</summary>
    public string Reason { get; }

    private static string FormatMessage(string entry, int index, string reason) =>
        index >= 0 ? $"entry {index} '{entry}': {reason}" : $"'{entry}': {reason}";
}
